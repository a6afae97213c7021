"""The audit's parts merged, with the interval summaries (src/actunlearn/evaluation/audit.py)."""
import pandas as pd

from actunlearn.evaluation.audit import PART_TABLES, TABLES, merge_parts
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    parts = [{name: pd.read_parquet(inp[f"{name}_{k}"]) for name in PART_TABLES}
             for k in range(par.parts)]
    tables = merge_parts(parts, par.seed)
    print(tables["attacks"].to_string())
    prov = provenance({"parts": par.parts}, par.seed)
    for name in TABLES:
        write_parquet(tables[name], snakemake.output[name], prov)
