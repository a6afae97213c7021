import pandas as pd

from actunlearn.neurons.ranking import score_agreement
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    table = score_agreement(pd.read_parquet(snakemake.input.scores), snakemake.params.k)
    print(table.to_string())
    write_parquet(table, snakemake.output.agreement, provenance({"k": snakemake.params.k}))
