import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.ranking import rank_neurons
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.ranking)
    ranking = rank_neurons(pd.read_parquet(snakemake.input.scores), cfg["score"], cfg["contrast"],
                           cfg["normalise"])
    print(ranking.head(20).to_string())
    write_parquet(ranking, snakemake.output.ranking, provenance({"ranking": cfg}))
