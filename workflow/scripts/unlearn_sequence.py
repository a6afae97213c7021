import json
import tempfile
from pathlib import Path

import pandas as pd

from actunlearn.models.loading import default_device, load_model, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.neurons.activations import dump_activations
from actunlearn.neurons.probing import contrastive_difference
from actunlearn.neurons.ranking import ranking_from_config
from actunlearn.neurons.scores import concept_examples, neuron_scores
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.unlearning.data import build_unlearn_data
from actunlearn.unlearning.methods import UnlearnContext, run_method
from actunlearn.unlearning.sequential import check_targets, merged_model, retarget


def step_contrast(model, tokenizer, prompts, ranking_cfg, device):
    """The contrastive activation table on the current model, when the ranking uses it."""
    if "contrast" not in ranking_cfg["scores"]:
        return None
    train = prompts[prompts.split == "train"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activations.parquet"
        dump_activations(model, tokenizer, train, path, "float32", {}, 64, device)
        return contrastive_difference(path, train)


with logged(snakemake.log[0]):
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    cfg, targets = dict(snakemake.params.method), list(snakemake.params.targets)
    ranking_cfg, neurons_cfg = dict(snakemake.params.ranking), dict(snakemake.params.neurons)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model = load_model(snakemake.input.model, device)
    tokenizer = load_tokenizer(snakemake.input.model)
    prompts = pd.read_parquet(snakemake.input.prompts)
    corpus = pd.read_parquet(snakemake.input.corpus)
    catalog = pd.read_parquet(snakemake.input.catalog)
    check_targets(targets, catalog)
    prov = provenance({"method": method, **cfg, "targets": targets, "ranking": ranking_cfg,
                       "neurons": neurons_cfg, "refusal": snakemake.params.refusal}, seed, device)
    out = Path(snakemake.output.checkpoints)
    logs, rankings, manifests = [], [], []
    for step, target in enumerate(targets, start=1):
        p, c = retarget(prompts, corpus, catalog, target, targets[:step - 1],
                        snakemake.params.neighbours_by)
        forget, retain = concept_examples(tokenizer, p, neurons_cfg["retain_prompts"], seed)
        scores, _ = neuron_scores(model, forget, retain, tokenizer.pad_token_id,
                                  neurons_cfg["batch_size"], device)
        ranking, _ = ranking_from_config(scores, ranking_cfg,
                                         step_contrast(model, tokenizer, p, ranking_cfg, device))
        data = build_unlearn_data(tokenizer, p, c, snakemake.params.refusal, seed=seed,
                                  titles=catalog.title.tolist(),
                                  max_new_tokens=snakemake.params.max_new_tokens, device=device)
        step_cfg = cfg
        if not data.expose and cfg.get("unlikelihood_weight", 0) > 0:
            # stated, not silent: a target that no remaining film recommends has no exposure
            # context, so this step trains without the unlikelihood term (log: unlikelihood_off)
            print(f"step {step}: no recommendation context names {target!r}: the unlikelihood "
                  "term is off for this step")
            step_cfg = {**cfg, "unlikelihood_weight": 0.0}
        result = run_method(UnlearnContext(method, model, tokenizer, data, ranking, step_cfg,
                                           seed, device))
        model = merged_model(result.model)
        folder = out / f"step{step}"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "provenance.json").write_text(json.dumps(
            prov | {"step": step, "target": target, "forgotten_before": targets[:step - 1]},
            indent=2, default=str))
        print(f"step {step}: forgot {target!r}; last log row {result.log[-1]}")
        logs += [{"sequence_step": step, "target": target,
                  "unlikelihood_off": step_cfg is not cfg, **row} for row in result.log]
        manifests.append(data.manifest.assign(sequence_step=step, target=target))
        rankings.append(ranking.assign(sequence_step=step, target=target))
    frames = {"log": pd.DataFrame(logs), "ranking": pd.concat(rankings, ignore_index=True),
              "manifest": pd.concat(manifests, ignore_index=True)}
    for name, frame in frames.items():
        frame.insert(0, "sequence", f"{method}_seed{seed}")
        frame.insert(1, "method", method)
        frame.insert(2, "seed", seed)
        write_parquet(frame, snakemake.output[name], prov)
