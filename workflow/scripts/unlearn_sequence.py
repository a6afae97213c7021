"""Forget unlearn.sequential.targets in turn (src/actunlearn/unlearning/sequential.py)."""
import pandas as pd

from actunlearn.models.loading import default_device, load_model, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.unlearning.sequential import unlearn_sequence

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    cfg, targets = dict(par.method), list(par.targets)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model, tokenizer = load_model(inp.model, device), load_tokenizer(inp.model)
    prov = provenance({"method": method, **cfg, "targets": targets, "ranking": par.ranking,
                       "neurons": par.neurons, "refusal": par.refusal}, seed, device)
    frames = unlearn_sequence(model, tokenizer, pd.read_parquet(inp.prompts),
                              pd.read_parquet(inp.corpus), pd.read_parquet(inp.catalog), method,
                              cfg, targets, dict(par.ranking), dict(par.neurons), par.neighbours_by,
                              par.refusal, par.max_new_tokens, seed, device,
                              snakemake.output.checkpoints, prov)
    for name, frame in frames.items():
        write_parquet(frame, snakemake.output[name], prov)
