"""Localization ground truth (testbed): planted facts recovered by each neuron ranking, and the
deletion curve of the study's ranking on the real forget films
(src/actunlearn/neurons/localization.py)."""
import pandas as pd

from actunlearn.models.loading import open_checkpoint
from actunlearn.neurons.localization import deletion_auc, localize_study
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    cfg, ranking_cfg = dict(par.localize), dict(par.ranking)
    model, tokenizer, device = open_checkpoint(inp.model, None, snakemake.threads, par.seed)
    tables = localize_study(model, tokenizer, pd.read_parquet(inp.prompts),
                            pd.read_parquet(inp.ranking), cfg, ranking_cfg, par.seed, device)
    print(tables["planted"].to_string())
    print(deletion_auc(tables["deletion"]).to_string())
    prov = provenance({"localize": cfg, "ranking": ranking_cfg}, par.seed, device)
    for name, frame in tables.items():
        write_parquet(frame, snakemake.output[name], prov)
