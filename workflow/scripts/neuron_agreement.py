import pandas as pd

from actunlearn.neurons.ranking import score_agreement
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    table = score_agreement(pd.read_parquet(snakemake.input.scores), snakemake.params.k)
    print(table.to_string())
    write_parquet(table, snakemake.output.agreement, provenance({"k": snakemake.params.k}))
