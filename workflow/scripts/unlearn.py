"""Unlearn one method with one seed (src/actunlearn/unlearning/methods/registry.py: unlearn_job)."""
import pandas as pd

from actunlearn.config import checkpoint_name
from actunlearn.models.loading import default_device, load_model, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.unlearning.methods import log_frame, save_result, unlearn_job

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model, tokenizer = load_model(inp.model, device), load_tokenizer(inp.model)
    read = lambda name: pd.read_parquet(inp[name]) if inp.get(name) else None  # noqa: E731
    result, data = unlearn_job(model, tokenizer, read("prompts"), read("corpus"), read("all_prompts"),
                               read("catalog"), read("ranking"), read("answers"), method,
                               dict(par.method), par.refusal, par.max_new_tokens, seed, device)
    print("\n".join(map(str, result.log)))
    prov = provenance({"method": method, **par.method, "refusal": par.refusal,
                       "retain_data": par.retain_data, "max_new_tokens": par.max_new_tokens},
                      seed, device)
    print(f"saved a {save_result(result, snakemake.output.checkpoint, tokenizer, prov)} checkpoint")
    name = checkpoint_name(method, seed)
    write_parquet(log_frame(result.log, name), snakemake.output.log, prov)
    write_parquet(data.manifest.assign(checkpoint=name), snakemake.output.manifest, prov)
