"""Small statistics with explicit undefined cases: a constant input gives value None and a
reason, never a silent NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd


def scipy_stats():
    """scipy.stats, imported on first use (it costs ~0.6 s at start-up of every job)."""
    from scipy import stats
    return stats


def spearman(x, y) -> tuple[float | None, str | None]:
    """Spearman rank correlation (average ranks for ties) and, when undefined, why."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"spearman: lengths differ ({len(x)} vs {len(y)})")
    if len(x) < 3:
        return None, f"undefined: only {len(x)} values"
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("spearman: non-finite input")
    for name, v in (("first", x), ("second", y)):
        if np.all(v == v[0]):
            return None, f"undefined: the {name} score is constant ({v[0]:.3g})"
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1]), None


def jaccard(a, b) -> float:
    a, b = set(a), set(b)
    if not a and not b:
        raise ValueError("jaccard of two empty sets is undefined")
    return len(a & b) / len(a | b)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = identical, 1 = disjoint supports)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = 0.5 * (p + q)

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)
