"""Evaluate one checkpoint (src/actunlearn/evaluation/checkpoint.py); an unlearned one also dumps
its activations and their shift from the base model's."""
import pandas as pd

from actunlearn.evaluation.checkpoint import TABLES, evaluate_checkpoint, unlearned_activation_shift
from actunlearn.models.loading import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

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
        write_parquet(tables[name].assign(checkpoint=checkpoint)[["checkpoint", *tables[name]]],
                      snakemake.output[name], prov)
    if "activations" in snakemake.output.keys():
        acts = {"dtype": par.dtype, "shift_retain_films": par.shift_retain_films}
        dump_prov = provenance(acts | {"checkpoint": checkpoint, "prompts": "shift"}, par.seed, device)
        moved, pca, layer = unlearned_activation_shift(
            model, tokenizer, device, prompts, inp.base_activations, snakemake.output.activations,
            par.dtype, par.shift_retain_films, par.inference["batch_size"], par.seed, dump_prov)
        shift_prov = provenance({"checkpoint": checkpoint, "pca_layer": layer} | acts, par.seed)
        write_parquet(moved.assign(checkpoint=checkpoint)[["checkpoint", *moved]],
                      snakemake.output.activation_shift, shift_prov)
        write_parquet(pca.assign(checkpoint=checkpoint, layer=layer)[["checkpoint", "layer", *pca]],
                      snakemake.output.pca, shift_prov)
