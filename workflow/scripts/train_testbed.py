"""Train the testbed model: base on the full corpus, retain_ref without forget-target lines
(src/actunlearn/models/testbed.py: train_variant)."""
import pandas as pd

from actunlearn.models.loading import default_device, setup_torch
from actunlearn.models.testbed import train_variant
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_json, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, seed, variant = dict(snakemake.params.testbed), snakemake.params.seed, snakemake.wildcards.variant
    setup_torch(snakemake.threads, seed)
    device = default_device()
    tokenizer = load_tokenizer(snakemake.input.tokenizer)
    model, log, lines = train_variant(tokenizer, pd.read_parquet(snakemake.input.corpus),
                                      pd.read_parquet(snakemake.input.prompts), cfg, variant, seed,
                                      device)
    prov = provenance({"testbed": cfg, "variant": variant, "lines": lines}, seed, device)
    model.save_pretrained(snakemake.output.model)
    tokenizer.save_pretrained(snakemake.output.model)
    write_json(prov | {"final_recall": log[-1]["recall"]}, f"{snakemake.output.model}/provenance.json")
    frame = pd.DataFrame(log)
    frame.insert(0, "model", variant)
    write_parquet(frame, snakemake.output.log, prov)
