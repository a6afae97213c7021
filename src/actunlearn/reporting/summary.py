"""The headline results per method: every metric by split, with design-aware intervals.

One row per (method, metric, split, film): the design mean over seeds, films and facts with a
crossed cluster-bootstrap interval inside the metric's range (`intervals.design_interval`), and
the numbers of seeds, films, facts and observations behind it. `film` is "all" for the
aggregate over the forget set, else one forget film (its own recall, its neighbours' recall, its
exposure in recommendation contexts).

Splits: `held_out` rows come from prompts no method trained on (held-out paraphrase templates,
and recommendation contexts in held-out templates, which no unlearning objective sees); `train`
rows come from the training templates, which are in every trained method's forget or retain data
(the per-checkpoint manifests list them). Headline columns are the held-out ones.

Observations, per metric:
- forget / neighbour / retain recall: one row per prompt (0/1), fact = (film, intent), film = the
  prompt's film; for neighbours the per-film rows group them by the forget film they neighbour;
- exposure_prob (probability of the forget title, end of turn included) and exposure_rank (its
  rank among the candidate titles, in [1, N]): one row per (context prompt, target), film = the
  target, fact = the context's film;
- perplexity_retain: one value per checkpoint (held-out statements), seeds only;
- shift_{role}_recall (role forget, neighbour, retain), split = the shift set, and for alias
  and multi-hop shift_{role}_bridge (the answer names the described film): one row per
  shift prompt, as for recall (the shift sets are built from training templates or are
  compositions, none of them trained on).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from actunlearn.config import run_of
from actunlearn.metrics.intervals import design_interval

RECALL_METRICS = {"forget_recall": "forget", "neighbour_recall": "neighbour",
                  "retain_recall": "retain"}
SPLITS = ("held_out", "train")
COLUMNS = ["method", "metric", "split", "film", "estimate", "low", "high", "n_seeds", "n_films",
           "n_facts", "n_obs", "interval", "note", "deterministic"]


def _with_runs(frame: pd.DataFrame) -> pd.DataFrame:
    parsed = [run_of(c, single_seed=0) for c in frame.checkpoint]
    return frame.assign(method=[m for m, _ in parsed], seed=[s for _, s in parsed])


def recall_observations(recall: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Long rows (method, seed, metric, split, film, group, fact, value) from the per-prompt
    recall of every checkpoint; `group` is the forget film a row belongs to (None for retain)."""
    neighbour_of = catalog.set_index("title").neighbour_of
    rows = []
    for metric, role in RECALL_METRICS.items():
        sel = recall[recall.role == role]
        group = (sel.title if role == "forget" else
                 sel.title.map(neighbour_of) if role == "neighbour" else None)
        rows.append(pd.DataFrame({
            "checkpoint": sel.checkpoint, "metric": metric, "split": sel.split,
            "film": sel.title, "group": group, "fact": sel.intent,
            "value": sel.correct.astype(float)}))
    return _with_runs(pd.concat(rows, ignore_index=True))


def shift_observations(shift: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """Long rows for the shift sets: metric shift_{role}_recall, split = the shift set; for
    the rows with a bridge film (alias, multi-hop) also shift_{role}_bridge (the answer names
    it)."""
    neighbour_of = catalog.set_index("title").neighbour_of
    group = np.where(shift.role == "forget", shift.title,
                     np.where(shift.role == "neighbour", shift.title.map(neighbour_of), None))
    base = {"checkpoint": shift.checkpoint, "split": shift.shift_set, "film": shift.title,
            "group": group, "fact": shift.intent}
    rows = [pd.DataFrame({**base, "metric": "shift_" + shift.role + "_recall",
                          "value": shift.correct.astype(float)})]
    if "bridge_named" in shift:
        named = shift.bridge_named.notna().to_numpy()
        rows.append(pd.DataFrame({k: (v[named] if not isinstance(v, str) else v)
                                  for k, v in base.items()}
                                 | {"metric": "shift_" + shift.role[named] + "_bridge",
                                    "value": shift.bridge_named[named].astype(float)}))
    return _with_runs(pd.concat(rows, ignore_index=True))


def exposure_observations(exposure: pd.DataFrame) -> pd.DataFrame:
    """Long rows for exposure_prob and exposure_rank (see the module docstring)."""
    base = {"checkpoint": exposure.checkpoint, "split": exposure.split, "film": exposure.target,
            "group": exposure.target, "fact": exposure.title}
    prob = pd.DataFrame({**base, "metric": "exposure_prob",
                         "value": np.exp(exposure.target_logprob.astype(float))})
    rank = pd.DataFrame({**base, "metric": "exposure_rank",
                         "value": exposure.target_rank.astype(float),
                         "upper": exposure.n_candidates.astype(float)})
    return _with_runs(pd.concat([prob, rank], ignore_index=True))


def _bounds(metric: str, obs: pd.DataFrame) -> tuple[float, float | None]:
    if metric == "exposure_rank":
        return 1.0, float(obs.upper.max())
    if metric == "perplexity_retain":
        return 1.0, None
    return 0.0, 1.0


def method_results(recall: pd.DataFrame, exposure: pd.DataFrame, summary: pd.DataFrame,
                   catalog: pd.DataFrame, shift: pd.DataFrame | None = None,
                   n_resamples: int = 2000, rng_seed: int = 0,
                   deterministic: Iterable[str] = ()) -> pd.DataFrame:
    """The long results table (`COLUMNS`) from every checkpoint's recall, exposure, summary and
    shift artifacts (each with a `checkpoint` column). A metric with no observations for a method
    and split gets no row (a method table shows it as missing, never as 0). `deterministic`: the
    methods whose handler ignores the seed (run once; column `deterministic`)."""
    parts = [recall_observations(recall, catalog), exposure_observations(exposure)]
    if shift is not None and len(shift):
        parts.append(shift_observations(shift, catalog))
    obs = pd.concat(parts, ignore_index=True)
    ppl = summary[summary.metric == "perplexity_retain"]
    ppl = _with_runs(pd.DataFrame({"checkpoint": ppl.checkpoint, "metric": "perplexity_retain",
                                   "split": "held_out", "film": "all", "group": None,
                                   "fact": "all", "value": ppl.value.astype(float)}))
    rows = []
    kw = {"n_resamples": n_resamples, "rng_seed": rng_seed}
    for (method, metric, split), g in obs.groupby(["method", "metric", "split"], sort=True):
        lower, upper = _bounds(metric, g)
        rows.append({"method": method, "metric": metric, "split": split, "film": "all",
                     **design_interval(g, seed="seed", cluster="film", unit="fact", lower=lower,
                                       upper=upper, **kw)})
        for film, f in g.dropna(subset=["group"]).groupby("group", sort=True):
            rows.append({"method": method, "metric": metric, "split": split, "film": film,
                         **design_interval(f, seed="seed", cluster="film", unit="fact",
                                           lower=lower, upper=upper, **kw)})
    for method, g in ppl.groupby("method", sort=True):
        rows.append({"method": method, "metric": "perplexity_retain", "split": "held_out",
                     "film": "all", **design_interval(g, seed="seed", cluster=None, unit=None,
                                                      lower=1.0, **kw)})
    out = pd.DataFrame(rows)
    out["deterministic"] = out.method.isin(set(deterministic))
    return out[COLUMNS]


HEADLINE = ("forget_recall", "neighbour_recall", "retain_recall", "exposure_prob")


def paired_differences(recall: pd.DataFrame, exposure: pd.DataFrame, catalog: pd.DataFrame,
                       reference: str = "masked_lora", n_resamples: int = 2000,
                       rng_seed: int = 0) -> pd.DataFrame:
    """`reference` minus every other method on the held-out headline metrics, paired by seed,
    film and fact: per (seed, film, fact) cell the difference of the two methods' means, then
    the design mean of the differences with its interval inside [-1, 1] (the symmetric "t"
    interval, clipped: a difference is not a proportion, so no logit scale). Methods run once
    (deterministic, base, retain_ref) are paired with every seed of the reference. Columns:
    method (the other one), metric, estimate (reference - method), low, high, n_seeds,
    n_films, n_facts, note. Empty when the reference did not run."""
    obs = pd.concat([recall_observations(recall, catalog), exposure_observations(exposure)],
                    ignore_index=True)
    obs = obs[(obs.split == "held_out") & obs.metric.isin(HEADLINE)]
    cells = obs.groupby(["method", "seed", "metric", "film", "fact"], sort=True).value.mean()
    cells = cells.reset_index()
    ref = cells[cells.method == reference].drop(columns="method")
    rows = []
    if ref.empty:
        return pd.DataFrame(columns=["method", "metric", *COLUMNS[4:-1]])
    for method, other in cells[cells.method != reference].groupby("method", sort=True):
        other = other.drop(columns="method")
        keys = ["metric", "film", "fact"] + (["seed"] if other.seed.nunique() > 1 else [])
        if "seed" not in keys:
            other = other.drop(columns="seed")
        paired = ref.merge(other, on=keys, suffixes=("_ref", "_other"))
        paired["diff"] = paired.value_ref - paired.value_other
        for metric, g in paired.groupby("metric", sort=True):
            rows.append({"method": method, "metric": metric,
                         **design_interval(g, value="diff", seed="seed", cluster="film",
                                           unit="fact", lower=-1.0, upper=1.0, method="t",
                                           n_resamples=n_resamples, rng_seed=rng_seed)})
    return pd.DataFrame(rows).drop(columns=["level"])
