import math

import numpy as np
import pandas as pd
import pytest

from actunlearn.drift import (
    auc,
    extract_titles,
    jaccard_at_k,
    kendall_tau,
    ks_test,
    legacy_embedding_tau,
    mean_ci,
    min_k_prob,
    normalise_title_text,
    pairwise_family_drift,
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


# ---------------------------------------------------------------- pairwise_family_drift


def test_pairwise_family_drift():
    lists = {"p1": ["a", "b", "c"], "p2": ["a", "b", "c"], "p3": ["c", "b", "a"],
             "p4": [], "p5": []}
    df = pairwise_family_drift(lists, k=2, p=0.9)
    assert list(df.columns) == ["prompt_a", "prompt_b", "kendall_tau", "tau_note", "rbo", "rbo_note",
                                "jaccard_at_k", "jaccard_note", "n_a", "n_b"]
    assert len(df) == 10
    # undefined values are pd.NA in nullable Float64 columns, never NaN; notes None where defined
    assert all(str(df[c].dtype) == "Float64" for c in ("kendall_tau", "rbo", "jaccard_at_k"))
    assert df.tau_note.isna().sum() == 3 and df.tau_note[0] is None
    rows = df.set_index(["prompt_a", "prompt_b"])
    same = rows.loc[("p1", "p2")]
    assert same.kendall_tau == pytest.approx(1.0) and same.rbo == pytest.approx(1.0)
    assert same.jaccard_at_k == 1.0 and (same.n_a, same.n_b) == (3, 3)
    rev = rows.loc[("p1", "p3")]
    assert rev.kendall_tau == pytest.approx(-1.0)
    # abc vs cba, p = 0.9: X1 = 0, X2 = 1, X3 = 3: (0 + 0.5 * 0.81 + 0.729) / 9 + 0.729 = 0.855
    assert rev.rbo == pytest.approx(0.855)
    assert rev.jaccard_at_k == pytest.approx(1 / 3)  # {a,b} vs {c,b}
    one_empty = rows.loc[("p1", "p4")]
    assert one_empty.kendall_tau is pd.NA and "second list is empty" in one_empty.tau_note
    assert one_empty.rbo == 0.0 and one_empty.jaccard_at_k == 0.0 and one_empty.n_b == 0
    both_empty = rows.loc[("p4", "p5")]
    assert both_empty.kendall_tau is pd.NA and both_empty.rbo is pd.NA
    assert both_empty.jaccard_at_k is pd.NA and "both lists are empty" in both_empty.rbo_note
    assert "both lists are empty" in both_empty.jaccard_note


def test_pairwise_family_drift_single_prompt_and_bad_args():
    df = pairwise_family_drift({"p1": ["a"]})
    assert df.empty and "kendall_tau" in df.columns
    with pytest.raises(ValueError, match="k must be"):
        pairwise_family_drift({"p1": ["a"]}, k=0)
    with pytest.raises(ValueError, match="p must lie in"):
        pairwise_family_drift({"p1": ["a"]}, p=1.0)


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


# ---------------------------------------------------------------- mean_ci


def test_mean_ci_three_values():
    # values 1, 2, 3: mean 2, sd 1; t_{0.975, 2} = 4.302653 (tables) -> half = 4.302653 / sqrt(3)
    ci = mean_ci([1.0, 2.0, 3.0])
    half = 4.302653 / math.sqrt(3)  # 2.484138
    assert ci["mean"] == 2.0 and ci["sd"] == pytest.approx(1.0) and ci["n"] == 3
    assert ci["low"] == pytest.approx(2 - half, abs=1e-5)
    assert ci["high"] == pytest.approx(2 + half, abs=1e-5)
    assert ci["note"] is None and ci["level"] == 0.95
    # 90%: t_{0.95, 2} = 2.919986 -> half = 1.685852
    ci90 = mean_ci([1.0, 2.0, 3.0], level=0.90)
    assert ci90["high"] - ci90["mean"] == pytest.approx(2.919986 / math.sqrt(3), abs=1e-5)


def test_mean_ci_one_value_and_bad_input():
    ci = mean_ci([0.7])
    assert ci["mean"] == 0.7 and ci["n"] == 1
    assert ci["sd"] is None and ci["low"] is None and ci["high"] is None
    assert ci["note"] == "one seed: no interval"
    with pytest.raises(ValueError, match="NaN"):
        mean_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="no values"):
        mean_ci([])
    with pytest.raises(ValueError, match="level must lie in"):
        mean_ci([1.0, 2.0], level=1.0)
