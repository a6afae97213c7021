"""Recommendation drift and unlearning-quality measures, as pure functions.

Ranked lists are lists of distinct items (a repeated item raises ValueError). As in
`actunlearn.metrics.stats`, an undefined value is returned as None together with a short reason, never as
NaN and never clamped to a bound.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from actunlearn.metrics.stats import jaccard, scipy_stats


def _check_ranked(fn: str, name: str, items) -> list:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise ValueError(f"{fn}: the {name} list must be a list of items, got {type(items).__name__}")
    seen: set = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{fn}: the {name} list repeats {item!r}")
        seen.add(item)
    return list(items)


def _check_p(fn: str, p: float) -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"{fn}: p must lie in (0, 1), got {p}")


def _check_k(fn: str, k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{fn}: k must be a positive integer, got {k!r}")


def kendall_tau(a: list[str], b: list[str]) -> tuple[float | None, str | None]:
    """Kendall's tau-b between two ranked lists that may hold different items.

    Method: over the union of the items, each list ranks its own items 1..len(list); an item a
    list lacks gets rank len(list) + 1, so all of a list's missing items tie below everything it
    holds. Tau-b is then `scipy.stats.kendalltau` (variant "b") of the two rank vectors.
    Identical lists give 1.0, a list and its reverse -1.0. Disjoint lists give a negative value,
    since each list puts its own items above the other's: -1.0 for two single items, -0.8 for
    two lists of two.
    Undefined, (None, reason): fewer than 2 distinct items in all, or one list empty (its rank
    vector is then constant).
    """
    a = _check_ranked("kendall_tau", "first", a)
    b = _check_ranked("kendall_tau", "second", b)
    union = list(dict.fromkeys(a + b))
    if len(union) < 2:
        return None, f"undefined: the lists hold {len(union)} distinct item(s); need 2"
    for name, items in (("first", a), ("second", b)):
        if not items:
            return None, f"undefined: the {name} list is empty, so its rank vector is constant"
    ranks = []
    for items in (a, b):
        position = {item: i + 1 for i, item in enumerate(items)}
        ranks.append([position.get(item, len(items) + 1) for item in union])
    return float(scipy_stats().kendalltau(ranks[0], ranks[1], variant="b").statistic), None


def rbo(a: list[str], b: list[str], p: float = 0.9) -> float:
    """Rank-biased overlap, extrapolated (RBO_ext; Webber, Moffat & Zobel 2010, eq. 32).

    With S the shorter list (length s), L the longer (length l) and X_d the number of items
    common to the top d of both (S contributes all its s items when d > s):

        RBO_ext = (1-p)/p * [ sum_{d=1..l} X_d/d * p^d + sum_{d=s+1..l} X_s*(d-s)/(s*d) * p^d ]
                  + [ (X_l - X_s)/l + X_s/s ] * p^l

    which for equal lengths is eq. 30. Identical lists give 1 (up to rounding), disjoint lists
    0. One list empty gives 0.0 (no overlap at any depth). Raises ValueError when both lists are
    empty, when p is outside (0, 1), or when a list repeats an item.
    """
    a = _check_ranked("rbo", "first", a)
    b = _check_ranked("rbo", "second", b)
    _check_p("rbo", p)
    if not a and not b:
        raise ValueError("rbo: both lists are empty; rank-biased overlap is undefined")
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, l = len(short), len(long_)  # noqa: E741 (the paper's names)
    if s == 0:
        return 0.0
    seen_short: set = set()
    seen_long: set = set()
    overlap = [0] * (l + 1)  # overlap[d] = X_d
    x = 0
    for d in range(1, l + 1):
        if d <= s:
            item = short[d - 1]
            x += item in seen_long
            seen_short.add(item)
        item = long_[d - 1]
        x += item in seen_short
        seen_long.add(item)
        overlap[d] = x
    xs, xl = overlap[s], overlap[l]
    total = sum(overlap[d] / d * p**d for d in range(1, l + 1))
    total += sum(xs * (d - s) / (s * d) * p**d for d in range(s + 1, l + 1))
    return float((1 - p) / p * total + ((xl - xs) / l + xs / s) * p**l)


def jaccard_at_k(a: list[str], b: list[str], k: int) -> tuple[float | None, str | None]:
    """Jaccard index |A & B| / |A | B| of the sets of the first k items of each list.

    Undefined, (None, reason): both top-k sets empty. Raises ValueError for k < 1.
    """
    a = _check_ranked("jaccard_at_k", "first", a)
    b = _check_ranked("jaccard_at_k", "second", b)
    _check_k("jaccard_at_k", k)
    top_a, top_b = a[:k], b[:k]
    if not top_a and not top_b:
        return None, "undefined: both lists are empty"
    return jaccard(top_a, top_b), None


def kendall_topk_distance(a: list[str], b: list[str], p: float = 0.5,
                          k: int | None = None) -> tuple[float | None, str | None]:
    """Kendall distance between two top-k lists with penalty parameter p, K^(p) of Fagin, Kumar &
    Sivakumar (2003, "Comparing top k lists", SIAM J. Discrete Math. 17(1), sec. 3.1), normalised
    to [0, 1]: 0 for identical lists, 1 for two disjoint lists. Unlike `kendall_tau`, it never
    reads "the lists share nothing" as "the lists are reversed".

    With `k` each list is first cut to its first k items; with k None (default) the lists are
    compared whole. Over every unordered pair {i, j} of distinct items of the union, the penalty
    is (the paper's four cases; "ahead" = ranked higher):
      1. i and j in both lists: 1 if the lists order them oppositely, else 0;
      2. i and j in one list, exactly one of them (say i) in the other: 1 if j is ahead of i in
         the list that holds both (the other list implicitly puts i ahead of j), else 0;
      3. i in one list only and j in the other only: 1;
      4. i and j in one list, neither in the other: p.
    K^(p) is the sum of the penalties. Normaliser: its value for two DISJOINT lists of the same
    lengths m = len(a), n = len(b) (after the cut), where every cross pair is case 3 and every
    pair within a list is case 4:

        K_max = m * n + p * (m (m - 1) / 2 + n (n - 1) / 2)

    which for m = n = k is k^2 + p k (k - 1), i.e. k (3k - 1) / 2 at p = 0.5 (145 for k = 10).
    It is the maximum for those lengths, reached only by disjoint lists: with c >= 1 shared
    items, at most C(c, 2) + c (m - c) + c (n - c) + (m - c)(n - c) = m n - c (c + 1) / 2 pairs
    cost 1 (cases 1-3) and p (C(m - c, 2) + C(n - c, 2)) <= p (C(m, 2) + C(n, 2)) comes from
    case 4 (the tests also check this exhaustively for lengths <= 3). The paper defines K^(p)
    unnormalised; this normalisation is ours. The result is K^(p) / K_max, so 1.0 means
    "disjoint", never "reversed": a list and its reverse (k = 3) give 3 / 12 = 0.25.

    p must lie in (0, 1) (`rbo`'s check); p = 0.5 is the paper's "neutral" choice, for which
    K^(p) equals the mean Kendall distance over all ways of completing the two lists (K_avg).
    Undefined, (None, reason): K_max = 0, i.e. both lists empty, or one empty and the other a
    single item (there is no pair to compare). One list empty and the other holding 2 or more
    items gives 1.0 (all pairs are case 4). Raises ValueError for a repeated item, p outside
    (0, 1), or k < 1.
    """
    a = _check_ranked("kendall_topk_distance", "first", a)
    b = _check_ranked("kendall_topk_distance", "second", b)
    _check_p("kendall_topk_distance", p)
    if k is not None:
        _check_k("kendall_topk_distance", k)
        a, b = a[:k], b[:k]
    m, n = len(a), len(b)
    # whole-penalty pairs and p-penalty pairs counted apart, so that disjoint lists give
    # exactly the normaliser's arithmetic and hence exactly 1.0
    max_ones, max_ps = m * n, (m * (m - 1) + n * (n - 1)) // 2
    if max_ones == 0 and max_ps == 0:
        if not a and not b:
            return None, "undefined: both lists are empty"
        return None, "undefined: one list is empty and the other holds one item; no pair to compare"
    pos_a = {item: r for r, item in enumerate(a)}
    pos_b = {item: r for r, item in enumerate(b)}
    ones = ps = 0  # pairs with penalty 1, pairs with penalty p
    for i, j in itertools.combinations(list(dict.fromkeys(a + b)), 2):
        ia, ja, ib, jb = i in pos_a, j in pos_a, i in pos_b, j in pos_b
        if ia and ja and ib and jb:  # case 1
            ones += (pos_a[i] - pos_a[j]) * (pos_b[i] - pos_b[j]) < 0
        elif (ia and ja) or (ib and jb):
            both, other = (pos_a, pos_b) if (ia and ja) else (pos_b, pos_a)
            if i in other or j in other:  # case 2: `present` is in both lists, `absent` in one
                present, absent = (i, j) if i in other else (j, i)
                ones += both[absent] < both[present]
            else:  # case 4
                ps += 1
        else:  # case 3: one item in a only, the other in b only
            ones += 1
    return float((ones + p * ps) / (max_ones + p * max_ps)), None


def overlap_at_k(a: list[str], b: list[str], k: int) -> tuple[float | None, str | None]:
    """Share of the top k the two lists have in common: |top-k(a) & top-k(b)| / d, with
    d = min(k, max(len(a), len(b))), the size of the larger of the two top-k sets.

    So d = k whenever either list holds k items or more (the usual |A & B| / k, "agreement at
    depth k" in Webber et al. 2010); lists shorter than k are not penalised for being short (two
    identical 3-item lists give 1.0 at any k). 1.0 only when the two top-k sets are equal; 0.0
    when they are disjoint. Order within the top k is ignored. Undefined, (None, reason): both
    lists empty. Raises ValueError for k < 1 or a repeated item.
    """
    a = _check_ranked("overlap_at_k", "first", a)
    b = _check_ranked("overlap_at_k", "second", b)
    _check_k("overlap_at_k", k)
    top_a, top_b = a[:k], b[:k]
    d = max(len(top_a), len(top_b))
    if d == 0:
        return None, "undefined: both lists are empty"
    return len(set(top_a) & set(top_b)) / d, None


def legacy_embedding_tau(u, v) -> float:
    """The original prototype's "drift" number, kept only so old results can be compared.

    It is `scipy.stats.kendalltau` between two response EMBEDDING VECTORS taken element by
    element (dimension i of u paired with dimension i of v). That is NOT a correlation between
    rankings of recommendations and says nothing about whether the recommended titles or their
    order changed; do not use it as a drift measure. Raises ValueError for vectors of different
    lengths, fewer than 2 elements, non-finite values, or a constant vector (tau undefined).
    """
    u, v = np.asarray(u, dtype=float).ravel(), np.asarray(v, dtype=float).ravel()
    if len(u) != len(v):
        raise ValueError(f"legacy_embedding_tau: lengths differ ({len(u)} vs {len(v)})")
    if len(u) < 2:
        raise ValueError(f"legacy_embedding_tau: need at least 2 elements, got {len(u)}")
    for name, w in (("first", u), ("second", v)):
        if not np.isfinite(w).all():
            raise ValueError(f"legacy_embedding_tau: the {name} vector has non-finite values")
        if np.all(w == w[0]):
            raise ValueError(f"legacy_embedding_tau: the {name} vector is constant; tau undefined")
    return float(scipy_stats().kendalltau(u, v).statistic)
