import time

import numpy as np
import pandas as pd
import pytest

from actunlearn.metrics.intervals import (
    DEFAULT_METHOD,
    METHODS,
    _build_cube,
    _Replicates,
    design_interval,
    group_intervals,
)

KEYS = {"estimate", "low", "high", "n_seeds", "n_films", "n_facts", "n_obs", "interval", "level",
        "note"}
CONCRETE = ("logit-t", "t", "percentile")


def study(rng, seeds=3, films=5, facts=5, prompts=5, mu=0.0, sd_film=1.0, sd_seed=0.5,
          sd_fact=0.5, binary=True):
    """A crossed seeds x films study, facts nested in films, one row per prompt."""
    eta = (mu + rng.normal(0, sd_film, films)[None, :, None, None]
           + rng.normal(0, sd_seed, seeds)[:, None, None, None]
           + rng.normal(0, sd_fact, (films, facts))[None, :, :, None]
           + np.zeros((seeds, films, facts, prompts)))
    if binary:
        v = (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        v = eta + rng.normal(0, 0.5, eta.shape)
    s, f, k, _ = np.indices(v.shape)
    return pd.DataFrame({"seed": s.ravel(), "film": [f"film{i}" for i in f.ravel()],
                         "fact": k.ravel(), "value": v.ravel()})


def test_recall_at_the_bounds_stays_inside_unit_interval():
    rng = np.random.default_rng(0)
    # films fully recalled, fully forgotten and in between: cell means at 0 and at 1
    frame = study(rng, mu=0.0, sd_film=4.0)
    assert {0.0, 1.0} <= set(frame.groupby(["seed", "film", "fact"]).value.mean())
    near_one = frame.assign(value=1.0)
    near_one.loc[0, "value"] = 0.0                  # a single 0 among 375 ones
    near_zero = frame.assign(value=0.0)
    near_zero.loc[[0, 200], "value"] = 1.0
    for data in (frame, near_one, near_zero):
        for m in CONCRETE:
            r = design_interval(data, lower=0, upper=1, method=m)
            assert 0.0 <= r["low"] <= r["estimate"] <= r["high"] <= 1.0, (m, r)
            assert r["low"] < r["high"]
    r = design_interval(near_one, lower=0, upper=1, method="t")
    assert r["high"] == 1.0 and "cut at upper bound 1" in r["note"]
    r = design_interval(near_zero, lower=0, upper=1)      # logit-t: inside without cutting
    assert 0.0 < r["low"] < r["high"] < 1.0 and r["note"] is None


def test_all_zero_recall_gets_an_exact_binomial_bound_not_zero_width():
    """Recall 0 on every prompt: "0 [0, 0]" would claim certainty; the interval is the
    Clopper-Pearson bound with the facts as trials. A constant away from a bound, or without
    bounds, stays a stated zero-width interval."""
    frame = study(np.random.default_rng(1)).assign(value=0.0)
    for m in METHODS:
        r = design_interval(frame, lower=0, upper=1, method=m)
        n = r["n_facts"]
        assert r["estimate"] == r["low"] == 0.0
        assert r["high"] == pytest.approx(1 - 0.025 ** (1 / n)) and 0 < r["high"] < 0.2
        assert "Clopper-Pearson" in r["note"]
    ones = design_interval(frame.assign(value=1.0), lower=0, upper=1)
    assert ones["high"] == 1.0 and ones["low"] == pytest.approx(0.025 ** (1 / ones["n_facts"]))
    middle = design_interval(frame.assign(value=0.5), lower=0, upper=1)
    assert middle["low"] == middle["high"] == 0.5 and "zero-width interval" in middle["note"]


def test_ranks_stay_inside_one_to_n():
    rng = np.random.default_rng(2)
    frame = study(rng, prompts=3)
    n_items = 50
    # ranks: many at the top (1), a few deep
    frame["value"] = np.minimum(1 + rng.geometric(0.6, len(frame)) - 1
                                + (frame.film == "film4") * rng.integers(0, 49, len(frame)),
                                n_items).astype(float)
    assert frame.value.min() == 1
    for m in CONCRETE:
        r = design_interval(frame, lower=1, upper=n_items, method=m)
        assert 1.0 <= r["low"] <= r["estimate"] <= r["high"] <= n_items, (m, r)
    with pytest.raises(ValueError, match="below lower bound"):
        design_interval(frame.assign(value=frame.value - 1), lower=1, upper=n_items)


def test_counts_for_ragged_data():
    rows = []
    # film A: 3 facts, film B: 2, film C: 1; fact names repeat across films ("director").
    facts = {"A": ["director", "year", "genre"], "B": ["director", "star"], "C": ["director"]}
    for seed in (0, 1):
        for film, names in facts.items():
            if seed == 1 and film == "C":
                continue                               # seed 1 never scored film C
            for fact in names:
                for prompt in range(2 if film == "A" else 4):
                    rows.append({"seed": seed, "film": film, "fact": fact, "value": 0.5})
    frame = pd.DataFrame(rows)
    frame.loc[frame.index % 3 == 0, "value"] = 1.0
    r = design_interval(frame, lower=0, upper=1)
    assert set(r) == KEYS
    assert (r["n_seeds"], r["n_films"], r["n_facts"], r["n_obs"]) == (2, 3, 6, len(frame))
    assert r["low"] is not None and 0 <= r["low"] <= r["high"] <= 1


def test_design_mean_by_hand_differs_from_row_mean():
    rows = [  # (seed, film, fact, value)
        (0, "A", "a1", 1), (0, "A", "a1", 1), (0, "A", "a2", 0),
        (0, "B", "b1", 0), (0, "B", "b1", 0), (0, "B", "b1", 0), (0, "B", "b1", 1),
        (1, "A", "a1", 1), (1, "A", "a2", 1), (1, "B", "b1", 0),
    ]
    frame = pd.DataFrame(rows, columns=["seed", "film", "fact", "value"])
    # seed 0: film A (1 + 0) / 2 = 0.5, film B 0.25 -> 0.375; seed 1: A 1, B 0 -> 0.5
    r = design_interval(frame, lower=0, upper=1)
    assert r["estimate"] == pytest.approx(0.4375)
    assert frame.value.mean() == pytest.approx(0.5)
    # a (seed, film) pair without rows is left out of that seed's mean
    r = design_interval(frame[~((frame.seed == 1) & (frame.film == "B"))], lower=0, upper=1)
    assert r["estimate"] == pytest.approx((0.375 + 1.0) / 2)


def test_single_seed_still_gives_an_interval_from_films_and_facts():
    frame = study(np.random.default_rng(3), seeds=1)
    for kw in ({"seed": None}, {}):                    # no seed column, or one level
        r = design_interval(frame.drop(columns="seed") if kw else frame, lower=0, upper=1, **kw)
        assert r["n_seeds"] == 1 and r["n_films"] == 5 and r["n_facts"] == 25
        assert r["low"] < r["estimate"] < r["high"]
        assert "one seed: seed-to-seed variation not included" in r["note"]
    # one film: facts and seeds are still resampled (a per-film breakdown)
    one_film = study(np.random.default_rng(3), films=1)
    r = design_interval(one_film, lower=0, upper=1)
    assert r["n_films"] == 1 and r["low"] < r["high"] and "one film" in r["note"]


def test_fully_degenerate_input_is_undefined_with_a_note():
    frame = pd.DataFrame({"seed": 0, "film": "A", "fact": "director",
                          "value": [0.0, 1.0, 1.0, 0.0]})
    for m in METHODS:
        r = design_interval(frame, lower=0, upper=1, method=m)
        assert r["low"] is None and r["high"] is None
        assert r["estimate"] == 0.5 and r["note"].startswith("undefined")
        assert (r["n_seeds"], r["n_films"], r["n_facts"], r["n_obs"]) == (1, 1, 1, 4)
    r = design_interval(frame[["value"]], seed=None, cluster=None, unit=None)
    assert r["low"] is None and "undefined" in r["note"]


def test_invalid_input_raises():
    frame = study(np.random.default_rng(4), films=2, facts=2)
    with pytest.raises(ValueError, match="empty"):
        design_interval(frame.iloc[:0])
    with pytest.raises(ValueError, match="NaN"):
        design_interval(frame.assign(value=np.where(frame.index == 3, np.nan, frame.value)))
    with pytest.raises(ValueError, match="above upper bound"):
        design_interval(frame.assign(value=frame.value + 1), lower=0, upper=1)
    with pytest.raises(ValueError, match="n_resamples"):
        design_interval(frame, n_resamples=100)
    with pytest.raises(ValueError, match="needs both"):
        design_interval(frame, lower=0, method="logit-t")
    with pytest.raises(ValueError, match="unknown method"):
        design_interval(frame, method="bca")
    with pytest.raises(ValueError, match="no column"):
        design_interval(frame, cluster="movie")
    with pytest.raises(ValueError, match="missing labels"):
        design_interval(frame.assign(film=frame.film.where(frame.index != 0)))


def test_determinism_under_the_same_rng_seed():
    frame = study(np.random.default_rng(5))
    for m in CONCRETE:
        a = design_interval(frame, lower=0, upper=1, method=m, rng_seed=7)
        b = design_interval(frame, lower=0, upper=1, method=m, rng_seed=7)
        c = design_interval(frame, lower=0, upper=1, method=m, rng_seed=8)
        assert a == b
        assert a["estimate"] == c["estimate"] and (a["low"], a["high"]) != (c["low"], c["high"])
    # row order does not matter
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert design_interval(shuffled, rng_seed=7) == design_interval(frame, rng_seed=7)


def test_default_method_and_its_scales():
    frame = study(np.random.default_rng(6))
    assert DEFAULT_METHOD == "auto"
    assert design_interval(frame, lower=0, upper=1)["interval"] == "logit-t"
    assert design_interval(frame, lower=0)["interval"] == "t"
    assert design_interval(frame)["interval"] == "t"
    # the percentile interval stays inside the range of the cell means
    cells = frame.groupby(["seed", "film", "fact"]).value.mean()
    r = design_interval(frame, method="percentile")
    assert cells.min() <= r["low"] <= r["high"] <= cells.max()
    # near the bound logit-t has the longer upper arm
    low = study(np.random.default_rng(6), mu=-3.0)
    r = design_interval(low, lower=0, upper=1)
    assert r["high"] - r["estimate"] > r["estimate"] - r["low"] > 0


def test_interval_widens_with_film_spread():
    # small seed spread: with a large one, a growing film share raises the Satterthwaite df
    # (t quantile 4.3 at df 2 falls toward 2.8 at df 4), which can offset the larger variance
    widths = []
    for sd_film in (0.2, 1.0, 3.0):
        frame = study(np.random.default_rng(7), sd_film=sd_film, sd_seed=0.1, binary=False)
        r = design_interval(frame)
        widths.append(r["high"] - r["low"])
    assert widths[0] < widths[1] < widths[2]
    # and for recall, on the logit scale
    widths = []
    for sd_film in (0.2, 2.0):
        frame = study(np.random.default_rng(7), sd_film=sd_film, sd_seed=0.1)
        r = design_interval(frame, lower=0, upper=1)
        widths.append(r["high"] - r["low"])
    assert widths[0] < widths[1]


def test_general_and_linear_resampling_agree():
    """The fast path (complete cube: a matrix product) equals the general masked gather."""
    rng = np.random.default_rng(8)
    rows = [(s, f, k, p, rng.random()) for s in range(3) for f in range(4)
            for k in range(1 + f) for p in range(1 + k)]
    frame = pd.DataFrame(rows, columns=["seed", "film", "fact", "prompt", "value"])
    cube = _build_cube(frame, "value", "seed", "film", "fact")
    a, b = _Replicates(cube, 1000, 3), _Replicates(cube, 1000, 3, general=True)
    for name in ("both", "seeds", "films"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-12)


def test_group_intervals_one_row_per_group():
    rng = np.random.default_rng(9)
    frame = pd.concat([study(rng).assign(method=m, metric=k)
                       for m in ("ga", "npo") for k in ("recall", "prob")])
    out = group_intervals(frame, by=["method", "metric"], lower=0, upper=1)
    assert len(out) == 4 and set(out.columns) == KEYS | {"method", "metric"}
    assert list(zip(out.method, out.metric)) == sorted(zip(out.method, out.metric))
    one = design_interval(frame[(frame.method == "npo") & (frame.metric == "prob")],
                          lower=0, upper=1)
    row = out[(out.method == "npo") & (out.metric == "prob")].iloc[0]
    assert row.estimate == one["estimate"] and row.low == one["low"] and row.high == one["high"]
    per_film = group_intervals(frame[frame.method == "ga"], by=["metric", "film"], lower=0,
                               upper=1)
    assert len(per_film) == 10 and (per_film.n_films == 1).all() and (per_film.n_facts == 5).all()
    with pytest.raises(ValueError, match="empty"):
        group_intervals(frame.iloc[:0], by=["method"])


def test_one_call_is_fast():
    frame = study(np.random.default_rng(10))
    design_interval(frame, lower=0, upper=1)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        design_interval(frame, lower=0, upper=1, n_resamples=2000)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.05


@pytest.mark.parametrize("binary", [False, True])
def test_coverage_on_simulated_studies(binary):
    """100 studies with known truth: mu for normal scores; 0.5 for recall with mu = 0 (the
    logit model is symmetric about 0, so E[expit(mu + effects)] = 0.5 exactly)."""
    rng = np.random.default_rng(11)
    hits = 0
    for i in range(100):
        frame = study(rng, mu=0.0, binary=binary)
        r = design_interval(frame, rng_seed=i, **({"lower": 0, "upper": 1} if binary else {}))
        target = 0.5 if binary else 0.0
        hits += r["low"] <= target <= r["high"]
    assert hits / 100 >= 0.85
