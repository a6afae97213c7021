"""The validation retain reference: the testbed trained without any line that mentions a
validation film (src/actunlearn/models/testbed.py: train_variant)."""
import pandas as pd

from actunlearn.models.loading import default_device, setup_torch
from actunlearn.models.testbed import train_variant
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_json
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.testbed), snakemake.params.seed
    setup_torch(snakemake.threads, seed)
    device = default_device()
    tokenizer = load_tokenizer(snakemake.input.tokenizer)
    model, log, lines = train_variant(tokenizer, pd.read_parquet(snakemake.input.corpus),
                                      pd.read_parquet(snakemake.input.prompts), cfg, "retain_ref",
                                      seed, device)
    model.save_pretrained(snakemake.output.model)
    tokenizer.save_pretrained(snakemake.output.model)
    write_json(provenance({"testbed": cfg, "variant": "validation retain_ref", "lines": lines}, seed,
                          device) | {"final_recall": log[-1]["recall"]},
               f"{snakemake.output.model}/provenance.json")
