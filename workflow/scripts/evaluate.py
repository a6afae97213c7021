"""Evaluate one checkpoint (src/actunlearn/evaluation/checkpoint.py); an unlearned one also dumps
its activations and their shift from the base model's."""
import pandas as pd

from actunlearn.evaluation.checkpoint import (TABLES, activation_shift_artifacts, evaluate_checkpoint,
                                              first_columns)
from actunlearn.models.loading import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par, checkpoint = snakemake.input, snakemake.params, snakemake.wildcards.checkpoint
    model, tokenizer, device = open_checkpoint(inp.model, inp.get("checkpoint"), snakemake.threads, 0)
    prompts = pd.read_parquet(inp.prompts)
    tables = evaluate_checkpoint(model, tokenizer, device, prompts, pd.read_parquet(inp.all_prompts),
                                 pd.read_parquet(inp.corpus), pd.read_parquet(inp.catalog),
                                 pd.read_parquet(inp.shift_prompts), par.evaluate, par.inference,
                                 par.refusal, par.top_k_tokens, par.seed, par.quality)
    print(tables["summary"].to_string())
    prov = provenance({"evaluate": par.evaluate, "inference": par.inference, "checkpoint": checkpoint,
                       "top_k_tokens": par.top_k_tokens}, par.seed, device)
    for name in TABLES:
        write_parquet(first_columns(tables[name], checkpoint=checkpoint), snakemake.output[name], prov)
    if "activations" in snakemake.output.keys():
        for name, (frame, shift_prov) in activation_shift_artifacts(
                model, tokenizer, device, prompts, inp.base_activations, snakemake.output.activations,
                par.dtype, par.shift_retain_films, par.inference["batch_size"], par.seed,
                checkpoint).items():
            write_parquet(frame, snakemake.output[name], shift_prov)
