import pandas as pd

from actunlearn.models.loading import open_checkpoint
from actunlearn.neurons.activations import dump_activations
from actunlearn.provenance import provenance
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads)
    prompts = pd.read_parquet(snakemake.input.prompts)
    dtype = snakemake.params.dtype
    prov = provenance({"dtype": dtype, "checkpoint": snakemake.wildcards.checkpoint}, None, device)
    n = dump_activations(model, tokenizer, prompts, snakemake.output.activations, dtype, prov,
                         snakemake.params.batch_size, device)
    print(f"{n} rows ({len(prompts)} prompts x {model.config.num_hidden_layers} layers)")
