import pandas as pd

from actunlearn.models.loading import open_checkpoint
from actunlearn.neurons.scores import concept_examples, neuron_scores
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.neurons), snakemake.params.seed
    model, tokenizer, device = open_checkpoint(snakemake.input.model, None, snakemake.threads, seed)
    forget, retain = concept_examples(tokenizer, pd.read_parquet(snakemake.input.prompts),
                                      cfg["retain_prompts"], seed)
    scores, grads = neuron_scores(model, forget, retain, tokenizer.pad_token_id, cfg["batch_size"],
                                  device)
    print(f"forget prompts: {len(forget)}, retain prompts: {len(retain)}")
    prov = provenance({"neurons": cfg}, seed, device)
    write_parquet(scores, snakemake.output.scores, prov)
    write_parquet(grads, snakemake.output.gradient_norms, prov)
