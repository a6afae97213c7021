import pandas as pd

from actunlearn.modeling import default_device, load_model, qa_example, setup_torch
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.scores import neuron_scores
from actunlearn.tokenizer import load_tokenizer

with logged(snakemake.log[0]):
    cfg, seed = dict(snakemake.params.neurons), snakemake.params.seed
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model = load_model(snakemake.input.model, device)
    tokenizer = load_tokenizer(snakemake.input.model)
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
