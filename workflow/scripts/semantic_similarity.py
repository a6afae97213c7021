"""Prompt-text embeddings (all-MiniLM-L6-v2, shipped in a package) vs activation similarity."""
import pandas as pd

from actunlearn.models.embeddings import embed_texts
from actunlearn.neurons.probing import semantic_vs_activation
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    n, seed = snakemake.params.n_prompts, snakemake.params.seed
    prompts = pd.read_parquet(snakemake.input.prompts)
    # forget and neighbour prompts first, the rest a seeded sample of the other films
    focus = prompts[prompts.role.isin(["forget", "neighbour"])]
    rest = prompts.drop(focus.index)
    sample = pd.concat([focus, rest.sample(n=max(0, min(n - len(focus), len(rest))),
                                           random_state=seed)]).head(n)
    embeddings = embed_texts(sample.question.tolist())
    table = semantic_vs_activation(snakemake.input.activations, sample.prompt_id.tolist(), embeddings)
    print(table.to_string())
    write_parquet(table, snakemake.output.semantic,
                  provenance({"n_prompts": n, "model": "all-MiniLM-L6-v2"}, seed))
