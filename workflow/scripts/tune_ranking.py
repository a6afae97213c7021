"""The neuron ranking of the validation view (the study's scores and ranking rule, on the
validation films): what the masked methods' trials read."""
import pandas as pd

from actunlearn.models.loading import open_checkpoint
from actunlearn.neurons.ranking import ranking_from_config
from actunlearn.neurons.scores import concept_examples, neuron_scores
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.neurons), snakemake.params.seed
    model, tokenizer, device = open_checkpoint(snakemake.input.model, None, snakemake.threads, seed)
    forget, retain = concept_examples(tokenizer, pd.read_parquet(snakemake.input.known),
                                      cfg["retain_prompts"], seed)
    scores, _ = neuron_scores(model, forget, retain, tokenizer.pad_token_id, cfg["batch_size"], device)
    ranking, layers = ranking_from_config(scores, dict(snakemake.params.ranking), None)
    print(layers.to_string())
    write_parquet(ranking, snakemake.output.ranking,
                  provenance({"neurons": cfg, "ranking": dict(snakemake.params.ranking)}, seed, device))
