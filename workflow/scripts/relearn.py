import pandas as pd

from actunlearn.config import run_of
from actunlearn.evaluation.relearning import recovery_intervals, relearn_attack
from actunlearn.models.loading import default_device, load_checkpoint, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.relearn)
    setup_torch(snakemake.threads)
    device = default_device()
    tokenizer = load_tokenizer(snakemake.input.base)
    prompts = pd.read_parquet(snakemake.input.prompts)
    tables = []
    for name in snakemake.params.checkpoints:
        seed = run_of(name)[1] or 0
        model = (load_checkpoint(snakemake.input.retain_ref, None, device) if name == "retain_ref"
                 else load_checkpoint(snakemake.input.base, snakemake.input[name], device))
        table = relearn_attack(model, tokenizer, prompts, cfg["train_intents"], cfg["steps"],
                               cfg["learning_rate"], cfg["batch_size"], seed, device)
        table.insert(0, "checkpoint", name)
        print(table.to_string())
        tables.append(table)
    attacks = pd.concat(tables, ignore_index=True)
    prov = provenance({"relearn": cfg, "checkpoints": snakemake.params.checkpoints}, None, device)
    write_parquet(attacks, snakemake.output.relearn, prov)
    write_parquet(recovery_intervals(attacks), snakemake.output.recovery, prov)
