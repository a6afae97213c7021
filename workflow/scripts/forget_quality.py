import pandas as pd

from actunlearn.evaluation.forget_quality import fact_table, method_summary, quality_summary
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    samples = pd.concat([pd.read_parquet(p) for p in snakemake.input.facts], ignore_index=True)
    summary = quality_summary(samples, reference="retain_ref")
    intervals = method_summary(summary)  # per method over seeds; no intervals, no mean p-value
    print(summary.to_string())
    print(intervals.to_string())
    prov = provenance({"reference": "retain_ref", "p_threshold": 0.05})
    write_parquet(summary, snakemake.output.summary, prov)
    write_parquet(intervals, snakemake.output.intervals, prov)
    if "facts" in snakemake.output.keys():  # the per-fact table, where the rule declares it
        write_parquet(fact_table(samples), snakemake.output.facts, prov)
