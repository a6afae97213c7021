import pandas as pd

from actunlearn.modeling import open_checkpoint, qa_example
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.scores import neuron_scores

with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.neurons), snakemake.params.seed
    model, tokenizer, device = open_checkpoint(snakemake.input.model, None, snakemake.threads, seed)
    prompts = pd.read_parquet(snakemake.input.prompts)
    train = prompts[prompts.split == "train"]
    forget = train[train.role == "forget"]
    others = train[train.role.isin(["neighbour", "retain"])]
    retain = others.sample(n=min(cfg["retain_prompts"], len(others)), random_state=seed)
    def encode(df):
        return [qa_example(tokenizer, q, a) for q, a in zip(df.question, df.answer)]

    scores, grads = neuron_scores(model, encode(forget), encode(retain), tokenizer.pad_token_id,
                                  cfg["batch_size"], device)
    print(f"forget prompts: {len(forget)}, retain prompts: {len(retain)}")
    prov = provenance({"neurons": cfg}, seed, device)
    write_parquet(scores, snakemake.output.scores, prov)
    write_parquet(grads, snakemake.output.gradient_norms, prov)
