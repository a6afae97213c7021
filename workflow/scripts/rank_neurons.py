import pandas as pd

from actunlearn.neurons.ranking import ranking_from_config
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.ranking)
    ranking, layers = ranking_from_config(pd.read_parquet(snakemake.input.scores), cfg,
                                          pd.read_parquet(snakemake.input.contrast)
                                          if snakemake.input.get("contrast") else None)
    print(layers.to_string())
    print(ranking.head(20).to_string())
    prov = provenance({"ranking": cfg})
    write_parquet(ranking, snakemake.output.ranking, prov)
    write_parquet(layers, snakemake.output.layers, prov)
