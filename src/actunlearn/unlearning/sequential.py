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

import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES


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
    known = p.role.isin(KNOWN_ROLES)
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
