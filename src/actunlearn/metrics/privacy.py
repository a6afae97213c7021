"""Privacy and forget-quality tests as pure functions: KS, AUC, Min-K% probability.

An undefined value raises or is returned with its reason, never as NaN.
"""

from __future__ import annotations

import math

import numpy as np

from actunlearn.metrics.stats import scipy_stats


def _finite_sample(fn: str, name: str, values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if len(x) < 1:
        raise ValueError(f"{fn}: the {name} sample is empty")
    if not np.isfinite(x).all():
        raise ValueError(f"{fn}: the {name} sample has NaN or infinite values")
    return x


def ks_test(x, y) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: (statistic, p-value) from `scipy.stats.ks_2samp`,
    two-sided, method "auto". Raises ValueError when either sample is empty or non-finite."""
    x = _finite_sample("ks_test", "first", x)
    y = _finite_sample("ks_test", "second", y)
    res = scipy_stats().ks_2samp(x, y, alternative="two-sided", method="auto")
    return float(res.statistic), float(res.pvalue)


def auc(positive_scores, negative_scores) -> float:
    """ROC AUC = P(s_pos > s_neg) + 0.5 * P(s_pos == s_neg) over all positive-negative pairs.

    Computed exactly from average ranks of the pooled scores (Mann-Whitney U):
    AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos * n_neg), R_pos the positives' rank sum.
    For membership inference: positives = forget (member) facts, negatives = never-seen
    holdout facts, score e.g. -loss; 0.5 = indistinguishable. Infinite scores are ranked as
    such; ValueError for an empty sample or NaN.
    """
    pos = np.asarray(positive_scores, dtype=float).ravel()
    neg = np.asarray(negative_scores, dtype=float).ravel()
    for name, x in (("positive", pos), ("negative", neg)):
        if len(x) < 1:
            raise ValueError(f"auc: the {name} scores are empty")
        if np.isnan(x).any():
            raise ValueError(f"auc: the {name} scores contain NaN")
    ranks = scipy_stats().rankdata(np.concatenate([pos, neg]), method="average")
    n_pos, n_neg = len(pos), len(neg)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def min_k_prob(token_logprobs: list[float] | np.ndarray, k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al. 2024): the mean of the lowest ceil(k * n) of the n token
    log-probabilities (k * n rounded to 9 decimals first, so 0.14 * 50 selects 7, not 8).

    k must lie in (0, 1]. ValueError for an empty input, NaN, or a positive log-probability;
    -inf (probability 0) is allowed and then gives -inf.
    """
    x = np.asarray(token_logprobs, dtype=float).ravel()
    if not 0.0 < k <= 1.0:
        raise ValueError(f"min_k_prob: k must lie in (0, 1], got {k}")
    if len(x) == 0:
        raise ValueError("min_k_prob: no token log-probabilities")
    if np.isnan(x).any():
        raise ValueError("min_k_prob: token log-probabilities contain NaN")
    if (x > 0).any():
        raise ValueError(f"min_k_prob: log-probabilities must be <= 0, got max {x.max():.3g}")
    m = math.ceil(round(k * len(x), 9))
    return float(np.sort(x)[:m].mean())
