"""The search: one grid per method over values declared in config (`tuning.spaces`), the same
number of settings for every method of a model, and one selection criterion for all.

Criterion (`select`), on the validation films' held-out templates, averaged over tuning seeds:
a setting qualifies when its forget recall is at most the reference's + `margin`, the reference
being the validation retain reference (a testbed trained without the validation films' lines) or,
for a model without one, recall 0 (the threshold is then `margin` itself). Among qualifying
settings the one with the highest utility wins: the mean of held-out neighbour recall and held-out
retain recall (neighbour recall alone when no retain film is asked); ties go to the lower forget
recall, then to the earlier setting. If none qualifies, the lowest forget recall wins (ties: the
higher utility), flagged `qualified = False`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import yaml


class TuningError(ValueError):
    """A tuning configuration that cannot be run; the message names the key."""


def settings_grid(space: dict[str, list]) -> list[dict]:
    """Every combination of the space's values, in declared order (the last key varies fastest)."""
    keys = list(space)
    return [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]


def check_spaces(tuning: dict, run: list[str], methods: dict[str, dict], where: str = "") -> None:
    """Every method of `run` has a search space or follows a method that has one (`follow`), each
    space names only arguments the method's resolved settings have, holds at most
    `max_settings` settings, and every space is the same size (one search size for all)."""
    spaces, follow = tuning["spaces"], tuning["follow"]
    errors = []
    for name in run:
        leader = follow.get(name)
        if leader is not None:
            if leader not in spaces:
                errors.append(f"tuning.follow.{name}: {leader!r} has no search space")
            continue
        if name not in spaces:
            errors.append(f"tuning.spaces: method {name} of unlearn.run has no search space "
                          "(or a tuning.follow entry)")
            continue
        bad = [k for k in spaces[name] if k not in methods[name]]
        if bad:
            errors.append(f"tuning.spaces.{name}: {bad} are not settings of method {name} "
                          f"(its settings: {', '.join(k for k in methods[name] if k != 'handler')})")
    sizes = {m: len(settings_grid(s)) for m, s in spaces.items() if m in run}
    for m, n in sizes.items():
        if n > tuning["max_settings"]:
            errors.append(f"tuning.spaces.{m}: {n} settings > tuning.max_settings="
                          f"{tuning['max_settings']}")
    if len(set(sizes.values())) > 1:
        errors.append(f"tuning.spaces: every method gets the same number of settings; got {sizes}")
    if errors:
        raise TuningError("invalid configuration:\n" + "\n".join(f"  - {where}{e}" for e in errors))


def tuned_methods(tuning: dict, run: list[str]) -> list[str]:
    """The methods that are searched (those of `run` with a space, not following another)."""
    return [m for m in run if m in tuning["spaces"] and m not in tuning["follow"]]


def trial_frame(recall: pd.DataFrame) -> dict[str, float]:
    """{role_split: recall} (e.g. forget_held_out) and counts (n_forget_held_out) of one trial's
    scored answers (columns role, split, correct)."""
    out = {}
    for (role, split), g in recall.groupby(["role", "split"], sort=True):
        out[f"{role}_{split}"] = float(g.correct.mean())
        out[f"n_{role}_{split}"] = int(len(g))
    return out


def utility(frame: pd.DataFrame) -> pd.Series:
    """Mean of held-out neighbour and held-out retain recall (neighbours alone without retain)."""
    cols = [c for c in ("neighbour_held_out", "retain_held_out") if c in frame]
    if "neighbour_held_out" not in cols:
        raise ValueError("tuning: no held-out neighbour answers: the validation films' neighbours "
                         "are not known (catalog.validation_neighbours, knowledge check)")
    return frame[cols].mean(axis=1)


def select(trials: pd.DataFrame, reference: float | None, margin: float) -> pd.DataFrame:
    """One row per (method, setting): the tuning seeds' means, `threshold`, `qualifies`,
    `utility`, and `chosen` (the criterion of this module; `qualified` on the chosen row says
    whether it met the threshold)."""
    keys = ["method", "setting", "settings"]
    metric_cols = [c for c in trials if c.endswith(("_train", "_held_out")) and not c.startswith("n_")]
    grouped = trials.groupby(keys, sort=False)
    means = grouped[metric_cols].mean().reset_index()
    for col in (c for c in trials if c.startswith("n_")):
        means[col] = grouped[col].sum().to_numpy()  # prompts scored over the seeds
    means["seeds"] = grouped.seed.nunique().to_numpy()
    for col in ("effective_params", "seconds"):
        if col in trials:
            means[col] = grouped[col].mean().to_numpy()
    means["threshold"] = (0.0 if reference is None else reference) + margin
    means["reference"] = reference
    means["utility"] = utility(means)
    means["qualifies"] = means.forget_held_out <= means.threshold + 1e-12
    means["chosen"] = False
    means["qualified"] = pd.NA
    for _, g in means.groupby("method", sort=False):
        ok = g[g.qualifies]
        if len(ok):
            best = ok.sort_values(["utility", "forget_held_out", "setting"],
                                  ascending=[False, True, True]).index[0]
        else:
            best = g.sort_values(["forget_held_out", "utility", "setting"],
                                 ascending=[True, False, True]).index[0]
        means.loc[best, "chosen"] = True
        means.loc[best, "qualified"] = bool(len(ok))
    return means


def tuned_overlay(selection: pd.DataFrame, follow: dict[str, str], run: list[str]) -> dict:
    """The config overlay of the chosen settings: {"unlearn": {"methods": {method: values}}};
    a follower (tuning.follow) gets its leader's chosen values."""
    chosen = {r.method: json.loads(r.settings) for r in selection[selection.chosen].itertuples()}
    for name, leader in follow.items():
        if name in run and leader in chosen:
            chosen[name] = dict(chosen[leader])
    return {"unlearn": {"methods": {m: chosen[m] for m in run if m in chosen}}}


def reference_recall(reference: pd.DataFrame) -> float | None:
    """The validation retain reference's held-out forget recall (None: the model has none)."""
    ref = reference[reference.checkpoint == "retain_ref"]
    return None if ref.empty else float(ref.forget_held_out.iloc[0])


def selection_outputs(trials: pd.DataFrame, reference: pd.DataFrame, margin: float,
                      follow: dict[str, str], run: list[str], spaces: dict, model: str
                      ) -> tuple[pd.DataFrame, str]:
    """(the selection table: `select` with the base model's and the reference's rows first,
    method "base" / "retain_ref", the overlay's YAML text, with the criterion and each choice's
    numbers as comments)."""
    ref = reference_recall(reference)
    selected = select(trials, ref, margin)
    controls = reference.rename(columns={"checkpoint": "method"}).assign(setting=-1, settings="{}")
    controls["utility"] = utility(controls)
    table = pd.concat([controls, selected], ignore_index=True)
    table = table[["method", "setting", "settings", *[c for c in table if c not in
                                                        ("method", "setting", "settings")]]]
    overlay = tuned_overlay(selected, follow, run)
    lines = [f"# Tuned settings of model {model}: written by `snakemake --cores N tune` "
             "(workflow/rules/tune.smk); the study reads them.",
             f"# Criterion: held-out forget recall on the validation films <= "
             f"{'reference ' + format(ref, '.3g') if ref is not None else 'no reference: 0'} + "
             f"{margin} = {(ref or 0.0) + margin:.3g}; then the highest utility (held-out neighbour "
             "and retain recall).",
             f"# Grid sizes: {', '.join(f'{m} {len(settings_grid(s))}' for m, s in spaces.items())}."]
    for r in selected[selected.chosen].itertuples():
        lines.append(f"# {r.method}: setting {r.setting} {r.settings}: forget {r.forget_held_out:.3g}, "
                     f"utility {r.utility:.3g}{'' if r.qualified else ' (none qualified: lowest forget)'}")
    for name, leader in follow.items():
        if name in run:
            lines.append(f"# {name} follows {leader}")
    text = "\n".join(lines) + "\n" + yaml.safe_dump(overlay, sort_keys=False,
                                                    default_flow_style=None)
    return table, text


# The columns of the study's record of its tuning (results/{model}/tuned/trials.parquet, the
# committed trials of tuning.overlay); sql/tuning.sql reads them.
RECORD_COLUMNS = ["method", "setting", "settings", "forget_held_out", "neighbour_held_out",
                  "retain_held_out", "utility", "threshold", "reference", "qualifies", "chosen",
                  "qualified", "effective_params", "seconds"]


def committed_trials(path: str, enabled: bool = True, model: str = "") -> pd.DataFrame:
    """The trials the study's tuned settings were chosen from (the CSV that the tune rule writes
    beside the overlay), with a `note`; when there is none, or tuning is off for the model
    (tuning.enabled), one row whose note says that the methods ran at their configured
    settings."""
    why = (f"tuning.enabled is false for model {model}" if not enabled else
           f"no {path} (run snakemake tune)" if not Path(path).exists() else None)
    if why:
        return pd.DataFrame([{c: None for c in RECORD_COLUMNS}
                             | {"note": f"not tuned: {why}; the methods ran at their "
                                        "configured settings"}])
    frame = pd.read_csv(path, dtype={"settings": str})
    for col in RECORD_COLUMNS:
        if col not in frame:
            frame[col] = None
    return frame[RECORD_COLUMNS].assign(note=None)
