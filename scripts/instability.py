import pandas as pd

from actunlearn.instability import family_instability
from actunlearn.modeling import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads)
    prompts = pd.read_parquet(snakemake.input.prompts)
    responses = pd.read_parquet(snakemake.input.recall).set_index("prompt_id").response
    table = family_instability(model, tokenizer, prompts, responses,
                               top_k=snakemake.params.top_k_tokens, device=device)
    table.insert(0, "checkpoint", snakemake.wildcards.checkpoint)
    print(table.groupby(["role", "intent"])[["js_mean", "greedy_agreement"]].mean().to_string())
    prov = provenance({"top_k_tokens": snakemake.params.top_k_tokens,
                       "checkpoint": snakemake.wildcards.checkpoint}, None, device)
    write_parquet(table, snakemake.output.instability, prov)
