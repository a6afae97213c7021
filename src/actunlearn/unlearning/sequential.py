"""Sequential unlearning: forget a list of targets one after another (the original study's
incremental concept-level unlearning), each step a checkpoint.

Step k starts from step k-1's model (step 0 is the base model) and runs the configured method
on target k alone, with a neuron ranking computed on the current model for that target. The
data of step k is the study's data re-labelled around target k:
- target k is the forget role; films sharing its director or star are its neighbours;
- targets forgotten earlier leave the data entirely (no retain line, check or neighbour may teach
  them back); targets not reached yet are ordinary retain films;
- corpus lines that mention target k are its forget lines.
Each step's adapter is merged, and the step is saved as a full safetensors model.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from actunlearn.config import checkpoint_name
from actunlearn.data.catalog import KNOWN_ROLES
from actunlearn.neurons.activations import dump_activations
from actunlearn.neurons.probing import contrastive_difference
from actunlearn.neurons.ranking import ranking_from_config
from actunlearn.neurons.scores import concept_examples, neuron_scores
from actunlearn.unlearning.data import build_unlearn_data
from actunlearn.unlearning.methods import UnlearnContext, run_method


def neighbours_of(catalog: pd.DataFrame, title: str, by: list[str]) -> set[str]:
    """Known films that share `title`'s value of any column in `by` (director, star)."""
    film = catalog.set_index("title").loc[title]
    known = catalog[catalog.role.isin(KNOWN_ROLES) & (catalog.title != title)]
    same = pd.Series(False, index=known.index)
    for key in by:
        same |= known[key] == film[key]
    return set(known.title[same])


def retarget(prompts: pd.DataFrame, corpus: pd.DataFrame, catalog: pd.DataFrame, target: str,
             forgotten: list[str], neighbours_by: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(prompts, corpus) with roles and forget flags for unlearning `target` after `forgotten`."""
    if target in forgotten:
        raise ValueError(f"sequential: {target!r} is already forgotten at this step")
    gone = set(forgotten)
    near = neighbours_of(catalog, target, neighbours_by) - gone
    p = prompts[~prompts.title.isin(gone)].copy()
    # answers that name a forgotten film (recommendation lists) go too
    p = p[~p.gold.apply(lambda g: any(t in gone for t in g))]
    known = p.role.isin(KNOWN_ROLES) & (p.role != "skill")  # skill films are never evaluated
    p.loc[known, "role"] = "retain"
    p.loc[known & p.title.isin(near), "role"] = "neighbour"
    p.loc[p.title == target, "role"] = "forget"
    c = corpus[~corpus.mentions.apply(lambda m: any(t in gone for t in m))].copy()
    c["forget"] = c.mentions.apply(lambda m: target in m)
    return p.reset_index(drop=True), c.reset_index(drop=True)


def status_at(title: str, targets: list[str], step: int) -> str | None:
    """A sequence target's status after `step` steps (step 0: the base model)."""
    if title not in targets:
        return None
    i = targets.index(title)
    return "forgotten" if i < step else "pending"


def check_targets(targets: list[str], catalog: pd.DataFrame) -> None:
    """Every target must be a known catalog film, listed once."""
    known = set(catalog.title[catalog.role.isin(KNOWN_ROLES)])
    missing = [t for t in targets if t not in known]
    if missing:
        raise ValueError(f"unlearn.sequential.targets: {missing} are not known films of the catalog")
    if len(set(targets)) != len(targets):
        raise ValueError(f"unlearn.sequential.targets: a title is listed twice: {targets}")


def summarise_sequence(recall: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """Per step: recall of each sequence target (with its status) and of the other known films
    (`neighbours` of the catalog's forget targets, `retain`), by template split. A group without
    prompts gets no row."""
    rows = []
    for step, g in recall.groupby("step"):
        forgot = targets[step - 1] if step else None
        for split in ("train", "held_out"):
            s = g[g.split == split]
            for title in targets:
                t = s[s.title == title]
                if not len(t):
                    continue
                rows.append({"step": step, "forgot": forgot, "group": title,
                             "status": status_at(title, targets, step),
                             "split": split, "recall": float(t.correct.mean()),
                             "refusal": float(t.refused.mean()), "n": len(t)})
            other = s[~s.title.isin(targets)]
            for group in ("neighbour", "retain"):
                o = other[other.role == group]
                if len(o):
                    rows.append({"step": step, "forgot": forgot, "group": group, "status": None,
                                 "split": split,
                                 "recall": float(o.correct.mean()),
                                 "refusal": float(o.refused.mean()), "n": len(o)})
    return pd.DataFrame(rows)


def merged_model(model):
    """A plain model for the next step: a PEFT adapter merged into its base, every parameter
    trainable again (as a freshly loaded model), in eval mode."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    for p in model.parameters():
        p.requires_grad_(True)
    return model.eval()


def step_contrast(model, tokenizer, prompts: pd.DataFrame, ranking_cfg: dict, device: str):
    """The contrastive activation table on the current model, when the ranking uses it."""
    if "contrast" not in ranking_cfg["scores"]:
        return None
    train = prompts[prompts.split == "train"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activations.parquet"
        dump_activations(model, tokenizer, train, path, "float32", {}, 64, device)
        return contrastive_difference(path, train)


def unlearn_sequence(model, tokenizer, prompts: pd.DataFrame, corpus: pd.DataFrame,
                     catalog: pd.DataFrame, method: str, cfg: dict, targets: list[str],
                     ranking_cfg: dict, neurons_cfg: dict, neighbours_by: list[str], refusal: str,
                     max_new_tokens: int, seed: int, device: str, out: str | Path, prov: dict
                     ) -> dict[str, pd.DataFrame]:
    """Forget `targets` in turn with method `method` (resolved settings `cfg`); step k's merged
    model is saved as a full model in `out/step{k}` with its provenance. Returns the per-step
    training log, ranking and data manifest (keys log, ranking, manifest), each with the
    sequence's name, method and seed first."""
    check_targets(targets, catalog)
    logs, rankings, manifests = [], [], []
    for step, target in enumerate(targets, start=1):
        p, c = retarget(prompts, corpus, catalog, target, targets[:step - 1], neighbours_by)
        forget, retain = concept_examples(tokenizer, p, neurons_cfg["retain_prompts"], seed)
        scores, _ = neuron_scores(model, forget, retain, tokenizer.pad_token_id,
                                  neurons_cfg["batch_size"], device)
        ranking, _ = ranking_from_config(scores, ranking_cfg,
                                         step_contrast(model, tokenizer, p, ranking_cfg, device))
        data = build_unlearn_data(tokenizer, p, c, refusal, seed=seed, titles=catalog.title.tolist(),
                                  max_new_tokens=max_new_tokens, device=device)
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
        folder = Path(out) / f"step{step}"
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
    return {name: keyed(frame, checkpoint_name(method, seed), method, seed)
            for name, frame in frames.items()}


def keyed(frame: pd.DataFrame, sequence: str, method: str, seed: int) -> pd.DataFrame:
    """`frame` with the sequence's name, method and seed as its first columns (in place)."""
    frame.insert(0, "sequence", sequence)
    frame.insert(1, "method", method)
    frame.insert(2, "seed", seed)
    return frame
