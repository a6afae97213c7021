import itertools
import math

import numpy as np
import pytest

from actunlearn.metrics.matching import extract_titles, normalise_title_text
from actunlearn.metrics.privacy import auc, ks_test, min_k_prob
from actunlearn.metrics.rank_agreement import (
    jaccard_at_k,
    kendall_tau,
    kendall_topk_distance,
    legacy_embedding_tau,
    overlap_at_k,
    rbo,
)

CATALOG = [
    "Inception", "The Matrix", "The Dark Knight", "The Dark Knight Rises", "Up", "Heat",
    "Schindler's List", "Amélie", "Se7en", "Spider-Man", "Godfather, The", "A Beautiful Mind",
    "1917", "9",
]


# ---------------------------------------------------------------- extract_titles


def test_normalised_form():
    assert normalise_title_text("**Schindler’s List** (1993)") == "schindler s list"
    assert normalise_title_text("Matrix, The") == "matrix the"
    assert normalise_title_text("  _Amélie_\n\t&  Co. ") == "amelie and co"


@pytest.mark.parametrize("text, expected", [
    # numbered list, bold, years; the longer "Rises" title wins over "The Dark Knight"
    ("Here are some picks:\n1. **Inception** (2010) - mind-bending\n"
     "2. **The Dark Knight Rises** (2012)\n3. *Heat* (1995)",
     ["Inception", "The Dark Knight Rises", "Heat"]),
    # curly quotes and a curly apostrophe inside the title
    ("You might enjoy “Schindler’s List” or ‘Inception’.", ["Schindler's List", "Inception"]),
    # straight quotes
    ('Try "The Matrix" and \'Heat\'.', ["The Matrix", "Heat"]),
    # answer uses the suffix convention, catalog the prefix one (and "A" likewise)
    ("- Matrix, The (1999)\n- Beautiful Mind, A (2001)", ["The Matrix", "A Beautiful Mind"]),
    # catalog uses the suffix convention, answer the prefix one
    ("Everyone should see The Godfather.", ["Godfather, The"]),
    # whole words only: no "Up" inside "Upside" or "Upgrade"
    ("The Upside and Upgrade are fun.", []),
    ("_Up_ (2009) is lovely.", ["Up"]),
    # no duplicates, order of first appearance, case-insensitive
    ("Heat. Then Inception. Heat again, and **INCEPTION**.", ["Heat", "Inception"]),
    # both Dark Knight films, each once, in order
    ("The Dark Knight and then The Dark Knight Rises; the dark knight is better.",
     ["The Dark Knight", "The Dark Knight Rises"]),
    # bullets, italics by underscore, accents, hyphens, digits inside words
    ("* _Amelie_ (2001)\n* se7en\n* Spider Man", ["Amélie", "Se7en", "Spider-Man"]),
    # list numbers are not titles ("9"), years are not titles; "1917" is
    ("9. Heat\n10. 1917 (2019)\n11) Up (2009)", ["Heat", "1917", "Up"]),
    # punctuation hugging the titles
    ("(Inception), [Heat]! {Se7en}?", ["Inception", "Heat", "Se7en"]),
    ("No films here at all.", []),
    ("", []),
])
def test_extract_titles(text, expected):
    assert extract_titles(text, CATALOG) == expected


def test_extract_titles_own_form_beats_article_variant():
    # "the matrix" is the catalog's own form of "The Matrix" and the variant of "Matrix, The"
    assert extract_titles("the matrix", ["Matrix, The", "The Matrix"]) == ["The Matrix"]


def test_extract_titles_bad_input():
    with pytest.raises(ValueError, match="text must be a string"):
        extract_titles(None, CATALOG)
    with pytest.raises(ValueError, match="no letters or digits"):
        extract_titles("x", ["Heat", "!!!"])
    with pytest.raises(ValueError, match="not one string"):
        extract_titles("Heat", "Heat")


# ---------------------------------------------------------------- kendall_tau


def test_kendall_tau_identical_reversed():
    assert kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == (pytest.approx(1.0), None)
    assert kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == (pytest.approx(-1.0), None)


def test_kendall_tau_disjoint():
    # union (a, b): ranks a -> (1, 2), b -> (2, 1): one discordant pair, tau = -1
    assert kendall_tau(["a"], ["b"])[0] == pytest.approx(-1.0)
    # union (x, y, z, w): first ranks (1, 2, 3, 3), second (3, 3, 1, 2).
    # Pairs: (x,y) tied in second; (z,w) tied in first; the other 4 are discordant, none concordant.
    # tau_b = (C - D) / sqrt((n0 - t1)(n0 - t2)) = (0 - 4) / sqrt((6 - 1)(6 - 1)) = -0.8
    assert kendall_tau(["x", "y"], ["z", "w"])[0] == pytest.approx(-0.8)


def test_kendall_tau_partial_overlap():
    # union (x, y, z, w): ranks (1, 2, 3, 4) and (1, 4, 2, 3).
    # concordant: xy xz xw zw = 4; discordant: yz yw = 2; no ties -> (4 - 2) / 6 = 1/3
    assert kendall_tau(["x", "y", "z"], ["x", "z", "w"])[0] == pytest.approx(1 / 3)
    # union (x, y, z, w): ranks (1, 2, 3, 4) and (2, 1, 3, 3).
    # xy discordant; xz xw yz yw concordant; zw tied in second.
    # tau_b = (4 - 1) / sqrt(6 * (6 - 1)) = 3 / sqrt(30)
    value, note = kendall_tau(["x", "y", "z", "w"], ["y", "x"])
    assert value == pytest.approx(3 / math.sqrt(30)) and note is None


def test_kendall_tau_undefined():
    value, note = kendall_tau([], [])
    assert value is None and "0 distinct" in note
    value, note = kendall_tau(["a"], ["a"])
    assert value is None and "1 distinct" in note
    value, note = kendall_tau([], ["a", "b"])
    assert value is None and "first list is empty" in note
    value, note = kendall_tau(["a", "b"], [])
    assert value is None and "second list is empty" in note


def test_ranked_lists_bad_input():
    with pytest.raises(ValueError, match="first list repeats 'a'"):
        kendall_tau(["a", "b", "a"], ["a"])
    with pytest.raises(ValueError, match="second list must be a list"):
        rbo(["a"], "ab")
    with pytest.raises(ValueError, match="second list repeats"):
        jaccard_at_k(["a"], ["b", "b"], 2)


# ---------------------------------------------------------------- rbo


def test_rbo_identical_and_disjoint():
    assert rbo(["a", "b", "c"], ["a", "b", "c"]) == pytest.approx(1.0, abs=1e-12)
    items = [f"t{i}" for i in range(20)]
    assert rbo(items, items, p=0.98) == pytest.approx(1.0, abs=1e-12)
    assert rbo(["a", "b"], ["c", "d", "e"]) == 0.0
    # one empty list: no overlap at any depth
    assert rbo([], ["a", "b"]) == 0.0


def test_rbo_hand_computed_equal_length():
    # S = abc, L = acb, p = 0.9: X1 = 1, X2 = |{a,b} & {a,c}| = 1, X3 = 3.
    # sum X_d/d p^d = 0.9 + 0.5 * 0.81 + 1 * 0.729 = 2.034; (1-p)/p * 2.034 = 0.226
    # tail (X3/3) p^3 = 0.729 -> 0.955
    assert rbo(["a", "b", "c"], ["a", "c", "b"], p=0.9) == pytest.approx(0.955)


def test_rbo_hand_computed_uneven():
    # S = ab (s = 2), L = acb (l = 3), p = 0.5, so (1-p)/p = 1.
    # X1 = 1, X2 = |{a,b} & {a,c}| = 1, X3 = |{a,b} & {a,c,b}| = 2; X_s = 1, X_l = 2.
    # sum_{d=1..3} X_d/d p^d = 1/2 + 1/2 * 1/4 + 2/3 * 1/8 = 17/24
    # sum_{d=3..3} X_s (d-s)/(s d) p^d = 1 * 1/6 * 1/8 = 1/48
    # tail ((X_l - X_s)/l + X_s/s) p^l = (1/3 + 1/2) / 8 = 5/48
    # total = 34/48 + 1/48 + 5/48 = 5/6
    assert rbo(["a", "b"], ["a", "c", "b"], p=0.5) == pytest.approx(5 / 6)
    assert rbo(["a", "c", "b"], ["a", "b"], p=0.5) == pytest.approx(5 / 6)  # symmetric
    # S = ax, L = abc, p = 0.5: X1 = X2 = X3 = 1.
    # 1/2 + 1/2 * 1/4 + 1/3 * 1/8 = 2/3; + 1 * 1/6 * 1/8 = 1/48; tail (0 + 1/2) / 8 = 3/48
    # total = 32/48 + 1/48 + 3/48 = 3/4
    assert rbo(["a", "x"], ["a", "b", "c"], p=0.5) == pytest.approx(0.75)


def test_rbo_bad_input():
    with pytest.raises(ValueError, match="both lists are empty"):
        rbo([], [])
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="p must lie in"):
            rbo(["a"], ["a"], p=p)


# ---------------------------------------------------------------- jaccard_at_k


def test_jaccard_at_k():
    assert jaccard_at_k(["a", "b", "c"], ["a", "b", "c"], 3) == (1.0, None)
    assert jaccard_at_k(["a", "b", "c"], ["c", "b", "a"], 3) == (1.0, None)  # sets ignore order
    assert jaccard_at_k(["a", "b"], ["c", "d"], 2) == (0.0, None)
    a, b = ["a", "b", "c", "d"], ["b", "a", "e", "c"]
    assert jaccard_at_k(a, b, 2)[0] == pytest.approx(1.0)      # {a,b} vs {b,a}
    assert jaccard_at_k(a, b, 3)[0] == pytest.approx(2 / 4)    # {a,b,c} vs {b,a,e}
    assert jaccard_at_k(a, b, 4)[0] == pytest.approx(3 / 5)    # {a,b,c,d} vs {b,a,e,c}
    assert jaccard_at_k([], ["a"], 3) == (0.0, None)
    value, note = jaccard_at_k([], [], 5)
    assert value is None and "both lists are empty" in note
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            jaccard_at_k(["a"], ["a"], k)


# ---------------------------------------------------------------- kendall_topk_distance
# K^(p) of Fagin, Kumar & Sivakumar (2003) / K_max, K_max = m n + p (C(m, 2) + C(n, 2)) for lists
# of lengths m, n: for m = n = 3 and p = 0.5, K_max = 9 + 0.5 * (3 + 3) = 12.


def test_kendall_topk_identical_reversed_disjoint():
    assert kendall_topk_distance(["A", "B", "C"], ["A", "B", "C"]) == (0.0, None)
    # same items reversed: all C(3, 2) = 3 pairs are case 1 and discordant: 3 / 12
    assert kendall_topk_distance(["A", "B", "C"], ["C", "B", "A"]) == (pytest.approx(0.25), None)
    # disjoint, length 3: 9 case-3 pairs at 1 + 2 * 3 case-4 pairs at 0.5 = 12 -> 12 / 12
    assert kendall_topk_distance(["A", "B", "C"], ["D", "E", "F"]) == (1.0, None)
    # disjoint, length 10: 100 + 0.5 * (45 + 45) = 145 = K_max
    top10 = [f"t{i}" for i in range(20)]
    assert kendall_topk_distance(top10[:10], top10[10:]) == (1.0, None)
    assert kendall_tau(top10[:10], top10[10:])[0] == pytest.approx(-20 / 29)  # legacy: -0.69
    # one title each, disjoint: the single pair is case 3 -> 1 / (1 * 1) = 1.0 (tau-b gives -1)
    assert kendall_topk_distance(["A"], ["B"]) == (1.0, None)
    assert kendall_topk_distance(["A"], ["A"]) == (0.0, None)  # no pair, nothing wrong: 0 / 1


def test_kendall_topk_partial_overlap():
    # a = [A, B, C], b = [A, D, B]; union A, B, C, D:
    #   {A, B}: case 1, A ahead of B in both                                  -> 0
    #   {A, C}: case 2, both in a, only A in b; A ahead of C in a              -> 0
    #   {A, D}: case 2, both in b, only A in a; A ahead of D in b              -> 0
    #   {B, C}: case 2, both in a, only B in b; B ahead of C in a              -> 0
    #   {B, D}: case 2, both in b, only B in a; D ahead of B in b              -> 1
    #   {C, D}: case 3, C in a only, D in b only                              -> 1
    # K^(0.5) = 2; K_max = 12 -> 1/6 (and the same either way round)
    a, b = ["A", "B", "C"], ["A", "D", "B"]
    assert kendall_topk_distance(a, b) == (pytest.approx(1 / 6), None)
    assert kendall_topk_distance(b, a) == (pytest.approx(1 / 6), None)
    # p only enters through case 4, absent here: same value at p = 0.9 / K_max = 9 + 0.9 * 6
    assert kendall_topk_distance(a, b, p=0.9)[0] == pytest.approx(2 / 14.4)


def test_kendall_topk_different_lengths_and_p():
    # a = [A, B, C], b = [A] (m = 3, n = 1): {A, B}, {A, C}: case 2, A ahead -> 0;
    # {B, C}: case 4 -> p. K_max = 3 * 1 + p * (3 + 0).
    assert kendall_topk_distance(["A", "B", "C"], ["A"]) == (pytest.approx(0.5 / 4.5), None)
    assert kendall_topk_distance(["A", "B", "C"], ["A"], p=0.8)[0] == pytest.approx(0.8 / 5.4)
    # a = [A, B], b = [C, B, A] (m = 2, n = 3): {A, B}: case 1, discordant -> 1;
    # {A, C}: case 2 (both in b, only A in a), C ahead of A in b -> 1;
    # {B, C}: case 2, C ahead of B in b -> 1. K = 3; K_max = 2 * 3 + 0.5 * (1 + 3) = 8
    assert kendall_topk_distance(["A", "B"], ["C", "B", "A"]) == (pytest.approx(3 / 8), None)
    # disjoint lists of lengths 2 and 3: 6 + 0.5 * (1 + 3) = 8 = K_max
    assert kendall_topk_distance(["A", "B"], ["C", "D", "E"]) == (1.0, None)
    # one list empty: every pair of the other is case 4 -> p C(n, 2) / (p C(n, 2)) = 1
    assert kendall_topk_distance([], ["A", "B"]) == (1.0, None)
    # k cuts both lists first: [A, B] vs [A, B]
    assert kendall_topk_distance(["A", "B", "C", "D"], ["A", "B", "X", "Y"], k=2) == (0.0, None)
    assert kendall_topk_distance(["A", "B", "C", "D"], ["B", "A"], k=2)[0] == pytest.approx(0.2)


def test_kendall_topk_is_the_mean_kendall_over_completions_at_p_half():
    # K^(1/2) = K_avg: the mean Kendall distance over all ways of ranking each list's missing
    # items below its own (Fagin et al. 2003). Checked by brute force on small lists.
    def k_avg(a, b):
        union = list(dict.fromkeys(a + b))
        total = count = 0
        for rest_a in itertools.permutations([x for x in union if x not in a]):
            for rest_b in itertools.permutations([x for x in union if x not in b]):
                ra = {x: r for r, x in enumerate(a + list(rest_a))}
                rb = {x: r for r, x in enumerate(b + list(rest_b))}
                total += sum((ra[i] - ra[j]) * (rb[i] - rb[j]) < 0
                             for i, j in itertools.combinations(union, 2))
                count += 1
        return total / count
    for a, b in [(["A", "B", "C"], ["A", "D", "B"]), (["A", "B"], ["C", "B", "A"]),
                 (["A", "B", "C"], ["E", "C"]), (["A", "B", "C"], ["D", "E", "F"])]:
        m, n = len(a), len(b)
        k_max = m * n + 0.5 * (m * (m - 1) / 2 + n * (n - 1) / 2)
        assert kendall_topk_distance(a, b)[0] * k_max == pytest.approx(k_avg(a, b))


def test_kendall_topk_normaliser_is_the_maximum():
    # over every pair of lists of lengths <= 3 from 6 items: never above 1, and 1 only when
    # the lists are disjoint
    items = list("ABCDEF")
    lists = [list(x) for n in range(4) for x in itertools.permutations(items, n)]
    for p in (0.2, 0.5, 0.9):
        for a in (["A", "B", "C"], ["A", "B"], ["A"]):
            for b in lists:
                value, _ = kendall_topk_distance(a, b, p)
                if value is None:  # [A] vs []: no pair at all
                    assert len(a) + len(b) == 1
                    continue
                assert 0.0 <= value <= 1.0
                assert (value == 1.0) == (not set(a) & set(b)), (a, b, p)


def test_kendall_topk_undefined_and_bad_input():
    value, note = kendall_topk_distance([], [])
    assert value is None and "both lists are empty" in note
    value, note = kendall_topk_distance([], ["A"])
    assert value is None and "no pair" in note
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="p must lie in"):
            kendall_topk_distance(["A"], ["B"], p=p)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            kendall_topk_distance(["A"], ["B"], k=k)
    with pytest.raises(ValueError, match="second list repeats 'B'"):
        kendall_topk_distance(["A"], ["B", "B"])
    with pytest.raises(ValueError, match="first list must be a list"):
        kendall_topk_distance("AB", ["B"])


# ---------------------------------------------------------------- overlap_at_k


def test_overlap_at_k():
    assert overlap_at_k(["A", "B", "C"], ["A", "B", "C"], 3) == (1.0, None)
    assert overlap_at_k(["A", "B", "C"], ["C", "B", "A"], 3) == (1.0, None)  # order ignored
    assert overlap_at_k(["A", "B", "C"], ["D", "E", "F"], 3) == (0.0, None)
    assert overlap_at_k(["A"], ["B"], 10) == (0.0, None)
    # {A, B, C} & {A, D, B} = {A, B}: 2 / 3
    assert overlap_at_k(["A", "B", "C"], ["A", "D", "B"], 3)[0] == pytest.approx(2 / 3)
    # top 2: {A, B} & {A, D} = {A}: 1 / 2
    assert overlap_at_k(["A", "B", "C"], ["A", "D", "B"], 2)[0] == pytest.approx(1 / 2)
    # different lengths: d = min(k, longer length) = 3; {A, B} & {A, B, C} -> 2 / 3
    assert overlap_at_k(["A", "B"], ["A", "B", "C"], 10)[0] == pytest.approx(2 / 3)
    # lists shorter than k are not penalised: d = min(10, 3) = 3
    assert overlap_at_k(["A", "B", "C"], ["C", "A", "B"], 10) == (1.0, None)
    assert overlap_at_k([], ["A"], 3) == (0.0, None)
    value, note = overlap_at_k([], [], 3)
    assert value is None and "both lists are empty" in note
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            overlap_at_k(["A"], ["A"], k)
    with pytest.raises(ValueError, match="first list repeats"):
        overlap_at_k(["A", "A"], ["A"], 2)


# ---------------------------------------------------------------- legacy_embedding_tau


def test_legacy_embedding_tau():
    assert legacy_embedding_tau([0.1, 0.4, 0.2], [0.3, 0.9, 0.5]) == pytest.approx(1.0)
    assert legacy_embedding_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # element pairs (1,1) (2,3) (3,2): concordant 12, 13; discordant 23 -> (2 - 1) / 3
    assert legacy_embedding_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="lengths differ"):
        legacy_embedding_tau([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="second vector is constant"):
        legacy_embedding_tau([1, 2, 3], [5, 5, 5])
    with pytest.raises(ValueError, match="at least 2"):
        legacy_embedding_tau([1], [1])
    with pytest.raises(ValueError, match="first vector has non-finite"):
        legacy_embedding_tau([1, np.nan, 3], [1, 2, 3])


# ---------------------------------------------------------------- ks_test


def test_ks_test():
    assert ks_test([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == (0.0, 1.0)
    # complete separation, exact test: statistic 1; p = 2 / C(6, 3) = 0.1
    stat, pvalue = ks_test([1, 2, 3], [4, 5, 6])
    assert stat == 1.0 and pvalue == pytest.approx(0.1)
    rng = np.random.default_rng(0)
    stat, pvalue = ks_test(rng.normal(0, 1, 200), rng.normal(1.5, 1, 200))
    assert stat > 0.4 and pvalue < 1e-6
    with pytest.raises(ValueError, match="first sample is empty"):
        ks_test([], [1.0])
    with pytest.raises(ValueError, match="second sample is empty"):
        ks_test([1.0], [])
    with pytest.raises(ValueError, match="second sample has NaN"):
        ks_test([1.0], [np.nan])


# ---------------------------------------------------------------- auc


def test_auc_hand_computed():
    assert auc([3, 4], [1, 2]) == 1.0        # perfect separation
    assert auc([1, 2], [3, 4]) == 0.0
    # pairs (1,1) tie, (1,0) win, (2,1) win, (2,0) win -> (3 + 0.5) / 4
    assert auc([1, 2], [1, 0]) == pytest.approx(0.875)
    assert auc([1, 1], [1]) == pytest.approx(0.5)  # all tied
    # 0.9 beats both, 0.6 beats both, 0.2 beats 0.1 only -> 5 / 6
    assert auc([0.9, 0.2, 0.6], [0.5, 0.1]) == pytest.approx(5 / 6)


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    pos, neg = rng.integers(0, 5, 40), rng.integers(0, 5, 30)
    diff = pos[:, None] - neg[None, :]
    expected = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    assert auc(pos, neg) == pytest.approx(expected)


def test_auc_bad_input():
    with pytest.raises(ValueError, match="positive scores are empty"):
        auc([], [1.0])
    with pytest.raises(ValueError, match="negative scores are empty"):
        auc([1.0], [])
    with pytest.raises(ValueError, match="negative scores contain NaN"):
        auc([1.0], [np.nan])


# ---------------------------------------------------------------- min_k_prob


def test_min_k_prob():
    lp = [-1.0, -2.0, -3.0, -4.0, -5.0]
    assert min_k_prob(lp, 0.2) == -5.0               # ceil(1.0) = 1 lowest
    assert min_k_prob(lp, 0.4) == pytest.approx(-4.5)  # ceil(2.0) = 2
    assert min_k_prob(lp, 0.5) == pytest.approx(-4.0)  # ceil(2.5) = 3: -5, -4, -3
    assert min_k_prob(np.array(lp), 1.0) == pytest.approx(-3.0)
    # 0.14 * 50 is 7.000000000000001 in floating point, but 7 tokens are meant: -49 .. -43
    assert 0.14 * 50 > 7
    assert min_k_prob(-np.arange(50.0), 0.14) == pytest.approx(-46.0)


def test_min_k_prob_bad_input():
    with pytest.raises(ValueError, match="no token log-probabilities"):
        min_k_prob([], 0.2)
    for k in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="k must lie in"):
            min_k_prob([-1.0], k)
    with pytest.raises(ValueError, match="NaN"):
        min_k_prob([-1.0, np.nan], 0.5)
    with pytest.raises(ValueError, match="must be <= 0"):
        min_k_prob([-1.0, 0.5], 0.5)


