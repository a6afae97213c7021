"""Recommendation drift: how stable are a recommender's ranked lists across paraphrases of one
request, and how far does unlearning move them?

Input: one row per (checkpoint, prompt) with the prompt's paraphrase `family`, its ranked list of
titles (`ranked`) and its text `response`. Two comparisons, pair by pair:
- `paraphrase`: all pairs of prompts of one family, within one checkpoint;
- `vs_base`: each prompt of a checkpoint against the same prompt of the base checkpoint.
Per pair: the normalised top-k Kendall distance K^(0.5) of Fagin, Kumar & Sivakumar
(`drift.kendall_topk_distance`: 0 identical, 1 disjoint; null with a note when undefined), the
overlap of the two top-k sets (`drift.overlap_at_k`: 0 disjoint), rank-biased overlap (RBO_ext,
p), Jaccard of the top-`k` sets, the cosine of the two responses' sentence embeddings, and two
legacy columns kept to compare old numbers: `kendall_tau`, tau-b with missing items tied at the
bottom (`drift.kendall_tau`), which reads disjoint lists as partly reversed (negative; -1 for two
one-title lists), and the original study's Kendall tau between the two embedding vectors
(`legacy_embedding_tau`; not a ranking correlation at all).

The noise floor of every method's numbers is the base model's own paraphrase drift: the rows
with checkpoint "base" and comparison "paraphrase" (set beside each method's value in
sql/recommendation_drift.sql, columns `*_base_paraphrase`).
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable

import numpy as np
import pandas as pd

from actunlearn.config import run_of
from actunlearn.data.response_logs import read_response_logs
from actunlearn.metrics.intervals import design_interval
from actunlearn.metrics.matching import extract_titles
from actunlearn.metrics.rank_agreement import (
    _check_k,
    jaccard_at_k,
    kendall_tau,
    kendall_topk_distance,
    legacy_embedding_tau,
    overlap_at_k,
    rbo,
)
from actunlearn.models.embeddings import unit_embeddings

PAIR_COLUMNS = ["checkpoint", "comparison", "family_kind", "family", "prompt_a", "prompt_b",
                "kendall_topk_distance", "kendall_topk_note", "overlap_at_k",
                "kendall_tau", "tau_note", "rbo", "jaccard_at_k", "embedding_cosine",
                "legacy_embedding_tau"]
METRICS = ("kendall_topk_distance", "overlap_at_k", "kendall_tau", "rbo", "jaccard_at_k",
           "embedding_cosine", "legacy_embedding_tau")
# Penalty parameter of `kendall_topk_distance` in the drift tables: the paper's neutral choice
# (K^(1/2) = the mean Kendall distance over all completions of the two lists).
TOPK_P = 0.5


def _pair(a_list, b_list, a_vec, b_vec, k: int, p: float, top_k: int | None = None) -> dict:
    a_list, b_list = list(a_list), list(b_list)
    tau, note = kendall_tau(a_list, b_list)
    jac, _ = jaccard_at_k(a_list, b_list, k)  # None when both lists are empty
    dist, dist_note = kendall_topk_distance(a_list, b_list, TOPK_P, k=top_k)
    depth = top_k if top_k is not None else max(len(a_list), len(b_list), 1)
    overlap, _ = overlap_at_k(a_list, b_list, depth)  # None when both lists are empty
    return {"kendall_topk_distance": dist, "kendall_topk_note": dist_note,
            "overlap_at_k": overlap,
            "kendall_tau": tau, "tau_note": note,
            "rbo": rbo(a_list, b_list, p) if (a_list or b_list) else None,
            "jaccard_at_k": jac,
            "embedding_cosine": float(np.dot(a_vec, b_vec)),
            "legacy_embedding_tau": legacy_embedding_tau(a_vec, b_vec)}


def drift_pairs(recs: pd.DataFrame, embed: Callable[[list[str]], np.ndarray], k: int = 5,
                p: float = 0.9, base: str | None = "base",
                top_k: int | None = None) -> pd.DataFrame:
    """Pairwise drift rows (`PAIR_COLUMNS`). `recs` columns: checkpoint, prompt_id, family,
    family_kind, ranked (list of titles), response. `embed` maps texts to unit-norm vectors.
    With `base` (a checkpoint name present in `recs`), every other checkpoint is also compared
    prompt by prompt against it.

    `k` is the depth of `jaccard_at_k` (config `evaluate.drift.jaccard_k`), `p` RBO's
    persistence. `kendall_topk_distance` (K^(0.5), `TOPK_P`) and `overlap_at_k` compare the
    top `top_k` of the two lists; with top_k None (default) the lists whole, at their own
    length, which for the evaluation's lists is `evaluate.drift.top_k` (overlap_at_k then
    divides by the longer list's length). `kendall_tau` is the legacy tau-b column."""
    if top_k is not None:
        _check_k("recommendation drift", top_k)
    need = {"checkpoint", "prompt_id", "family", "family_kind", "ranked", "response"}
    missing = sorted(need - set(recs.columns))
    if missing:
        raise ValueError(f"recommendation drift: missing columns {missing}")
    recs = recs.reset_index(drop=True)
    dupes = recs[recs.duplicated(["checkpoint", "prompt_id"], keep=False)]
    if len(dupes):
        first = dupes.iloc[0]
        raise ValueError(f"recommendation drift: prompt {first.prompt_id!r} appears "
                         f"{int((dupes.prompt_id == first.prompt_id).sum())} times in checkpoint "
                         f"{first.checkpoint!r}; each prompt once per checkpoint")
    vectors = np.asarray(embed(recs.response.astype(str).tolist()), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1, atol=1e-3):
        raise ValueError("recommendation drift: embeddings must be unit-normalised")
    rows = []
    for (checkpoint, family), g in recs.groupby(["checkpoint", "family"], sort=True):
        for i, j in combinations(g.index, 2):
            rows.append({"checkpoint": checkpoint, "comparison": "paraphrase",
                         "family_kind": g.family_kind.iloc[0], "family": family,
                         "prompt_a": recs.prompt_id[i], "prompt_b": recs.prompt_id[j],
                         **_pair(recs.ranked[i], recs.ranked[j], vectors[i], vectors[j], k, p,
                                 top_k)})
    if base is not None:
        if base not in set(recs.checkpoint):
            raise ValueError(f"recommendation drift: base checkpoint {base!r} not in the data")
        ref = {pid: i for i, pid in zip(recs.index[recs.checkpoint == base],
                                        recs.prompt_id[recs.checkpoint == base])}
        for i in recs.index[recs.checkpoint != base]:
            pid = recs.prompt_id[i]
            if pid not in ref:
                raise ValueError(f"recommendation drift: prompt {pid} of {recs.checkpoint[i]!r} "
                                 f"has no {base!r} counterpart")
            j = ref[pid]
            rows.append({"checkpoint": recs.checkpoint[i], "comparison": "vs_base",
                         "family_kind": recs.family_kind[i], "family": recs.family[i],
                         "prompt_a": pid, "prompt_b": pid,
                         **_pair(recs.ranked[j], recs.ranked[i], vectors[j], vectors[i], k, p,
                                 top_k)})
    out = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    for column in ("kendall_topk_distance", "overlap_at_k", "kendall_tau", "rbo",
                   "jaccard_at_k"):
        out[column] = out[column].astype("Float64")
    return out


def drift_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per (checkpoint, comparison, family_kind, metric): mean over the pairs where the metric is
    defined, `n` such pairs, and `undefined` pairs left out (with their reason in the pairs)."""
    rows = []
    for (checkpoint, comparison, kind), g in pairs.groupby(
            ["checkpoint", "comparison", "family_kind"], sort=True):
        for metric in METRICS:
            values = g[metric].dropna().astype(float)
            rows.append({"checkpoint": checkpoint, "comparison": comparison, "family_kind": kind,
                         "metric": metric, "value": float(values.mean()) if len(values) else None,
                         "n": len(values), "undefined": len(g) - len(values)})
    out = pd.DataFrame(rows)
    out["value"] = out.value.astype("Float64")  # NA (not NaN) where no pair is defined
    return out


# each pair metric's range: the design intervals stay inside it
METRIC_RANGE = {"kendall_topk_distance": (0.0, 1.0), "overlap_at_k": (0.0, 1.0),
                "kendall_tau": (-1.0, 1.0), "rbo": (0.0, 1.0), "jaccard_at_k": (0.0, 1.0),
                "embedding_cosine": (-1.0, 1.0), "legacy_embedding_tau": (-1.0, 1.0)}


def pair_intervals(pairs: pd.DataFrame, rng_seed: int = 0) -> pd.DataFrame:
    """Per method (checkpoint name without `_seedN`), comparison, family kind and metric: the
    design mean over seeds, families (one film's recommendation request) and pairs, with its
    crossed cluster-bootstrap interval inside the metric's range (`intervals.design_interval`).
    Columns: method, comparison, family_kind, metric, mean, low, high, n (seeds), n_families,
    n_pairs, note. Pairs where the metric is undefined are left out."""
    runs = [run_of(c) for c in pairs.checkpoint]
    frame = pairs.assign(method=[m for m, _ in runs], seed=[str(s or 0) for _, s in runs],
                         pair=pairs.prompt_a.astype(str) + "|" + pairs.prompt_b.astype(str))
    rows = []
    for metric in METRICS:
        defined = frame.dropna(subset=[metric])
        lower, upper = METRIC_RANGE[metric]
        for key, g in defined.groupby(["method", "comparison", "family_kind"], sort=True):
            # cosines of unit vectors may exceed 1 by rounding
            value = g[metric].astype(float).clip(lower, upper)
            r = design_interval(g.assign(value=value), seed="seed",
                                cluster="family", unit="pair", lower=lower, upper=upper,
                                rng_seed=rng_seed)
            rows.append(dict(zip(["method", "comparison", "family_kind"], key)) | {
                "metric": metric, "mean": r["estimate"], "low": r["low"], "high": r["high"],
                "n": r["n_seeds"], "n_families": r["n_films"], "n_pairs": r["n_obs"],
                "note": r["note"]})
    return pd.DataFrame(rows)


def log_recommendations(logs: pd.DataFrame, titles: list[str]) -> pd.DataFrame:
    """Response logs produced elsewhere (`byo.read_response_logs`) as drift input: each response's
    ranked list is the catalog titles it names, in order (`drift.extract_titles`). Every row needs
    a `family` (the paraphrase family it belongs to); `checkpoint` defaults to "logs"; a prompt is
    identified by its question text (the same question in two checkpoints is compared)."""
    if logs.empty:
        raise ValueError("response logs: no records; drift compares responses within a paraphrase "
                         "family")
    missing = logs.family.isna()
    if missing.any():
        lines = logs.line[missing].tolist()
        raise ValueError(f"response logs: {int(missing.sum())} records have no `family` (lines "
                         f"{lines[:10]}{' ...' if len(lines) > 10 else ''}); drift compares "
                         "responses within a paraphrase family")
    out = pd.DataFrame({
        "checkpoint": logs.checkpoint.fillna("logs").astype(str),
        "prompt_id": logs.question,  # the same question is the same prompt across checkpoints
        "family": logs.family.astype(str), "family_kind": "logs",
        "ranked": [extract_titles(r, titles) for r in logs.response],
        "response": logs.response,
    })
    return out


def drift_of_logs(path, titles: list[str], k: int = 5, p: float = 0.9, base: str | None = None,
                  top_k: int | None = None):
    """(recommendations, pairs, summary, intervals) for a JSONL file of response logs; `k`, `p`,
    `top_k` as in `drift_pairs` (top_k None: each pair's lists compared whole)."""
    recs = log_recommendations(read_response_logs(path), titles)
    if base is not None and base not in set(recs.checkpoint):
        raise ValueError(f"base checkpoint {base!r} is not in the logs ({sorted(set(recs.checkpoint))})")
    pairs = drift_pairs(recs, unit_embeddings, k=k, p=p, base=base, top_k=top_k)
    summary = drift_summary(pairs)
    return recs, pairs, summary, pair_intervals(pairs)
