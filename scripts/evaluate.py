import pandas as pd

from actunlearn.evaluate import exposure_samples, perplexity_samples, recall_samples, summarise
from actunlearn.modeling import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    checkpoint, cfg = snakemake.wildcards.checkpoint, dict(snakemake.params.evaluate)
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads, seed=0)
    prompts = pd.read_parquet(snakemake.input.prompts)
    corpus = pd.read_parquet(snakemake.input.corpus)
    catalog = pd.read_parquet(snakemake.input.catalog)
    titles = catalog.title[catalog.role != "unknown"].tolist()

    recall = recall_samples(model, tokenizer, prompts, snakemake.params.refusal, cfg["batch_size"],
                            cfg["max_new_tokens"], device)
    exposure = exposure_samples(model, tokenizer, prompts, titles, cfg["batch_size"], device)
    perplexity = perplexity_samples(model, tokenizer, corpus, cfg["batch_size"], device)
    summary = summarise(recall, exposure, perplexity)
    print(summary.to_string())
    prov = provenance({"evaluate": cfg, "checkpoint": checkpoint}, None, device)
    for name, frame in (("recall", recall), ("exposure", exposure), ("perplexity", perplexity),
                        ("summary", summary)):
        frame.insert(0, "checkpoint", checkpoint)
        write_parquet(frame, snakemake.output[name], prov)
