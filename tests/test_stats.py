import numpy as np
import pytest

from actunlearn.metrics.stats import jaccard, js_divergence, spearman


def test_spearman_known_values_and_undefined_cases():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40])[0] == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1])[0] == pytest.approx(-1.0)
    # monotone but non-linear: still 1
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64])[0] == pytest.approx(1.0)
    # hand-computed with ties: ranks x=(1,2.5,2.5,4), y=(1,2,3,4) -> r = 0.9486833
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4])[0] == pytest.approx(0.9486833, rel=1e-6)
    value, note = spearman([5, 5, 5], [1, 2, 3])
    assert value is None and "first score is constant" in note
    value, note = spearman([1, 2, 3], [0, 0, 0])
    assert value is None and "second score is constant" in note
    with pytest.raises(ValueError, match="non-finite"):
        spearman([1, np.nan, 3], [1, 2, 3])


def test_js_divergence_bounds():
    p = np.array([0.5, 0.5, 0.0])
    assert js_divergence(p, p) == 0.0
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    # hand computed: p=(1,0), q=(.5,.5): m=(.75,.25); 0.5*log2(1/.75) + 0.5*(.5log2(.5/.75)+.5log2(.5/.25))
    expected = 0.5 * np.log2(1 / 0.75) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(2))
    assert js_divergence([1, 0], [0.5, 0.5]) == pytest.approx(expected)


def test_jaccard():
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        jaccard(set(), set())
