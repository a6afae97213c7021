from pathlib import Path

import pandas as pd

from actunlearn.config import checkpoint_name
from actunlearn.data.corpus import evaluation_prompts
from actunlearn.evaluation.answers import answer_families
from actunlearn.models.loading import default_device, load_model, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.unlearning.sequential import status_at, summarise_sequence

with logged(snakemake.log[0]):
    seq, ev = snakemake.params.sequential, snakemake.params.inference
    targets, seed = list(seq["targets"]), snakemake.params.seed
    setup_torch(snakemake.threads, 0)
    device = default_device()
    tokenizer = load_tokenizer(snakemake.input.model)
    prompts = pd.read_parquet(snakemake.input.prompts)
    titles = pd.read_parquet(snakemake.input.catalog).title.tolist()  # for the entity matcher
    # every prompt of the targets, plus the catalog's neighbours and a sample of retain films
    asked = pd.concat([prompts[prompts.title.isin(targets)],
                       evaluation_prompts(prompts[~prompts.title.isin(targets)],
                                          seq["retain_films"], 0, seed,
                                          ("unlearn.sequential.retain_films", "-"))])
    asked = asked.sort_values("prompt_id").reset_index(drop=True)
    folders = [Path(snakemake.input.model)] + [Path(snakemake.input.checkpoints) / f"step{k}"
                                               for k in range(1, len(targets) + 1)]
    frames = []
    for step, folder in enumerate(folders):
        model = load_model(folder, device)
        recall, _ = answer_families(model, tokenizer, asked, snakemake.params.refusal,
                                    ev["batch_size"], ev["max_new_tokens"], 5, device,
                                    titles=titles)
        recall.insert(0, "step", step)
        recall["status"] = [status_at(t, targets, step) for t in recall.title]
        frames.append(recall)
    recall = pd.concat(frames, ignore_index=True)
    summary = summarise_sequence(recall, targets)
    print(summary[summary.split == "held_out"].to_string())
    name = checkpoint_name(snakemake.wildcards.method, snakemake.wildcards.seed)
    prov = provenance({"sequential": seq, "inference": ev}, seed, device)
    for frame, path in ((recall, snakemake.output.recall), (summary, snakemake.output.summary)):
        frame.insert(0, "sequence", name)
        frame.insert(1, "method", snakemake.wildcards.method)
        frame.insert(2, "seed", int(snakemake.wildcards.seed))
        write_parquet(frame, path, prov)
