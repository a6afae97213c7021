import pandas as pd

from actunlearn.neurons.probing import contrastive_difference
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    table = contrastive_difference(snakemake.input.activations,
                                   pd.read_parquet(snakemake.input.prompts))
    print(f"{int(table.contrast_z.isna().sum())} neurons with undefined contrast")
    write_parquet(table, snakemake.output.contrast, provenance({"analysis": "contrast"}))
