"""Headline results per method and film with design-aware intervals (src/actunlearn/reporting/summary.py)."""
import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.reporting.summary import method_results, paired_differences
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    read = {name: pd.concat([pd.read_parquet(p) for p in getattr(snakemake.input, name)],
                            ignore_index=True)
            for name in ("recall", "exposure", "summary", "shift")}
    catalog = pd.read_parquet(snakemake.input.catalog)
    results = method_results(read["recall"], read["exposure"], read["summary"], catalog,
                             read["shift"], rng_seed=snakemake.params.seed,
                             deterministic=snakemake.params.deterministic)
    differences = paired_differences(read["recall"], read["exposure"], catalog,
                                     rng_seed=snakemake.params.seed)
    print(results[results.film == "all"].to_string())
    print(differences.to_string())
    prov = provenance({"intervals": "actunlearn.metrics.intervals.design_interval",
                       "reference": "masked_lora"}, snakemake.params.seed)
    write_parquet(results, snakemake.output.results, prov)
    write_parquet(differences, snakemake.output.differences, prov)
