import pandas as pd

from actunlearn.data.shift_sets import shift_prompts
from actunlearn.provenance import provenance, read_provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.shift), snakemake.params.seed
    shift = shift_prompts(pd.read_parquet(snakemake.input.catalog),
                          pd.read_parquet(snakemake.input.prompts), cfg["sets"], cfg["templates"],
                          seed)
    print(shift.groupby(["shift_set", "role"]).size().unstack(fill_value=0).to_string())
    prov = provenance({"shift": cfg, "prompts": read_provenance(snakemake.input.prompts)["config_hash"]},
                      seed)
    write_parquet(shift, snakemake.output.shift, prov)
