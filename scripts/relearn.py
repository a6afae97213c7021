import pandas as pd

from actunlearn.modeling import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.relearn import relearn_attack
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    cfg, checkpoint = dict(snakemake.params.relearn), snakemake.wildcards.checkpoint
    seed = int(checkpoint.rpartition("_seed")[2]) if "_seed" in checkpoint else 0
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads, seed)
    table = relearn_attack(model, tokenizer, pd.read_parquet(snakemake.input.prompts),
                           cfg["train_intents"], cfg["steps"], cfg["learning_rate"],
                           cfg["batch_size"], seed, device)
    table.insert(0, "checkpoint", checkpoint)
    print(table.to_string())
    write_parquet(table, snakemake.output.relearn,
                  provenance({"relearn": cfg, "checkpoint": checkpoint}, seed, device))
