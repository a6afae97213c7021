import pandas as pd

from actunlearn.instability import family_instability
from actunlearn.modeling import default_device, load_checkpoint, setup_torch
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tokenizer import load_tokenizer

with logged(snakemake.log[0]):
    setup_torch(snakemake.threads)
    device = default_device()
    model = load_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"), device)
    tokenizer = load_tokenizer(snakemake.input.model)
    prompts = pd.read_parquet(snakemake.input.prompts)
    responses = pd.read_parquet(snakemake.input.recall).set_index("prompt_id").response
    table = family_instability(model, tokenizer, prompts, responses,
                               top_k=snakemake.params.top_k_tokens, device=device)
    table.insert(0, "checkpoint", snakemake.wildcards.checkpoint)
    print(table.groupby(["role", "intent"])[["js_mean", "greedy_agreement"]].mean().to_string())
    prov = provenance({"top_k_tokens": snakemake.params.top_k_tokens,
                       "checkpoint": snakemake.wildcards.checkpoint}, None, device)
    write_parquet(table, snakemake.output.instability, prov)
