import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.ranking import rank_neurons, select_layers
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.ranking)
    scores = pd.read_parquet(snakemake.input.scores)
    ranking = rank_neurons(scores, cfg["scores"], cfg["contrast"], cfg["normalise"], cfg["combine"],
                           cfg["weights"], pd.read_parquet(snakemake.input.contrast))
    rule = cfg["layers"]
    layers = select_layers(scores, rule["select"], rule["top"], rule["explicit"], rule["by"])
    selected = set(layers.layer[layers.selected])
    ranking["selected_layer"] = ranking.layer.isin(selected)
    print(layers.to_string())
    print(ranking.head(20).to_string())
    prov = provenance({"ranking": cfg})
    write_parquet(ranking, snakemake.output.ranking, prov)
    write_parquet(layers, snakemake.output.layers, prov)
