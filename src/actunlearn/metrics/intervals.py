"""Confidence intervals that respect the study design: seeds x films (crossed), facts nested in
films, observations (prompts) nested in facts.

A study unlearns F films with each method under S seeds: every seed's checkpoint forgets all
films, so seeds and films are crossed; each film has several facts, each fact is asked in several
prompts. `design_interval` takes one row per observation and returns the design-weighted mean
with a seeded two-way crossed cluster-bootstrap interval that states how many seeds, films and
facts stand behind it; `group_intervals` applies it per group (method, metric, film, ...).

As in `actunlearn.metrics.stats`, an undefined interval is returned as None with a note saying why, never
as a silent NaN. The coverage of the methods is measured by `bench/interval_coverage.py`, which
writes docs/interval_coverage.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

METHODS = ("auto", "logit-t", "t", "percentile")
DEFAULT_METHOD = "auto"

# Upper bound on the elements of one (resamples x seeds x films x facts) gather, to bound memory.
_CHUNK_ELEMENTS = 4_000_000


def _t_ppf(q: float, df: float) -> float:
    """Student-t quantile (scipy.stats imported on first use, as in `actunlearn.metrics`)."""
    from scipy import stats
    return float(stats.t.ppf(q, df))


# --------------------------------------------------------------------------------------------
# The design cube
# --------------------------------------------------------------------------------------------

class _Cube:
    """Cell means y[s, f, k] (seed s, film f, k-th fact of film f) with an observed-mask w and
    the number of facts of each film, nk[f] (films have ragged fact counts: positions k >= nk[f]
    are never observed)."""

    def __init__(self, y: np.ndarray, w: np.ndarray, nk: np.ndarray, v: np.ndarray):
        self.y, self.w, self.nk, self.n_obs = y, w, nk, len(v)
        self.vmin, self.vmax = float(v.min()), float(v.max())     # of the rows
        self.S, self.F, self.K = y.shape

    @property
    def n_facts(self) -> int:
        return int(self.nk.sum())


def _codes(col: pd.Series, name: str) -> tuple[np.ndarray, int]:
    if col.isna().any():
        raise ValueError(f"design_interval: column {name!r} has missing labels")
    codes, uniques = pd.factorize(col, sort=True)
    return codes.astype(np.int64), len(uniques)


def _build_cube(frame: pd.DataFrame, value: str, seed: str | None, cluster: str | None,
                unit: str | None) -> _Cube:
    for name in (value, seed, cluster, unit):
        if name is not None and name not in frame.columns:
            raise ValueError(f"design_interval: no column {name!r} (columns: {list(frame.columns)})")
    n = len(frame)
    if n == 0:
        raise ValueError("design_interval: empty input")
    v = pd.to_numeric(frame[value], errors="raise").to_numpy(dtype=float)
    if np.isnan(v).any():
        raise ValueError(f"design_interval: column {value!r} contains NaN")
    if not np.isfinite(v).all():
        raise ValueError(f"design_interval: column {value!r} contains infinities")
    zeros = np.zeros(n, dtype=np.int64)
    s_code, S = _codes(frame[seed], seed) if seed is not None else (zeros, 1)
    f_code, F = _codes(frame[cluster], cluster) if cluster is not None else (zeros, 1)
    if unit is not None:
        u_code, U = _codes(frame[unit], unit)
        # facts are nested in films: the unit is the (film, fact) pair
        pair = f_code * U + u_code
        p_code, p_uniq = pd.factorize(pair, sort=True)
        p_film = p_uniq // U                      # sorted by film, then fact
        nk = np.bincount(p_film, minlength=F).astype(np.int64)
        start = np.concatenate([[0], np.cumsum(nk)[:-1]])
        p_pos = np.arange(len(p_uniq)) - start[p_film]
        k_code = p_pos[p_code]
    else:
        nk = np.ones(F, dtype=np.int64)
        k_code = zeros
    K = int(nk.max())
    flat = (s_code * F + f_code) * K + k_code
    sums = np.bincount(flat, weights=v, minlength=S * F * K)
    counts = np.bincount(flat, minlength=S * F * K)
    w = counts > 0
    y = np.where(w, sums / np.maximum(counts, 1), 0.0)
    return _Cube(y.reshape(S, F, K), w.reshape(S, F, K), nk, v)


# --------------------------------------------------------------------------------------------
# Design means of (resampled) cubes
# --------------------------------------------------------------------------------------------

def _design_means(cube: _Cube, si: np.ndarray, fi: np.ndarray, ki: np.ndarray,
                  kmask: np.ndarray) -> np.ndarray:
    """Design mean of each resampled cube b: seeds si[b] (B, S'), films fi[b] (B, F'), facts
    ki[b, j] (B, F', K) of film fi[b, j], valid where kmask[b, j]. A film without observed cells
    in a seed is left out of that seed's mean; a seed without any, out of the mean over seeds
    (NaN only when a resample has no observed cell at all)."""
    B = si.shape[0]
    out = np.empty(B)
    per = max(1, si.shape[1] * fi.shape[1] * ki.shape[2])
    step = max(1, _CHUNK_ELEMENTS // per)
    for a in range(0, B, step):
        b = slice(a, a + step)
        s_ix = si[b][:, :, None, None]
        f_ix = fi[b][:, None, :, None]
        k_ix = ki[b][:, None, :, :]
        Y = cube.y[s_ix, f_ix, k_ix]
        W = cube.w[s_ix, f_ix, k_ix] & kmask[b][:, None, :, :]
        fw = W.sum(-1)
        fm = (Y * W).sum(-1) / np.maximum(fw, 1)           # (B, S', F') film means
        fp = fw > 0
        sc = fp.sum(-1)
        sm = (fm * fp).sum(-1) / np.maximum(sc, 1)          # (B, S') seed means
        sp = sc > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b] = (sm * sp).sum(-1) / sp.sum(-1)
    return out


def _identity(cube: _Cube, B: int):
    si = np.broadcast_to(np.arange(cube.S), (B, cube.S))
    fi = np.broadcast_to(np.arange(cube.F), (B, cube.F))
    ki = np.broadcast_to(np.arange(cube.K), (B, cube.F, cube.K))
    kmask = np.broadcast_to(np.arange(cube.K)[None, :] < cube.nk[:, None], (B, cube.F, cube.K))
    return si, fi, ki, kmask


def _estimate(cube: _Cube) -> float:
    return float(_design_means(cube, *_identity(cube, 1))[0])


class _Replicates:
    """Bootstrap replicates of the design mean from one set of seeded draws: `both` resamples
    seeds and films (with facts within each chosen film), `seeds` only the seeds (films and facts
    as observed), `films` only films and facts (seeds as observed), all from the same draws.

    A complete cube (every seed has every fact of every film) makes the design mean linear in the
    cell means, so the replicates are a weighted sum: seed weights (B, S) from the seed draws and
    fact weights (B, F*K) from the film and fact draws, one matrix product. A cube with missing
    cells takes the general gather (`_design_means`, same draws, same result on complete cubes)."""

    def __init__(self, cube: _Cube, B: int, rng_seed: int, general: bool = False):
        rng = np.random.default_rng(rng_seed)
        S, F, K = cube.S, cube.F, cube.K
        si = rng.integers(0, S, size=(B, S))
        fi = rng.integers(0, F, size=(B, F))
        n_chosen = cube.nk[fi]                                        # (B, F)
        ki = np.minimum((rng.random((B, F, K)) * n_chosen[:, :, None]).astype(np.int64),
                        n_chosen[:, :, None] - 1)
        kmask = np.arange(K)[None, None, :] < n_chosen[:, :, None]
        self.resample_seeds = S > 1
        self.resample_films = F > 1 or K > 1
        complete = bool((cube.w == (np.arange(K)[None, :] < cube.nk[:, None])[None]).all())
        if complete and not general:
            rows = np.arange(B)[:, None]
            cs = np.bincount((rows * S + si).ravel(),
                             minlength=B * S).reshape(B, S) / S        # seed weights
            fw = np.where(kmask, 1.0 / (F * n_chosen)[:, :, None], 0.0)
            flat = (rows[:, :, None] * F + fi[:, :, None]) * K + ki
            wfk = np.bincount(flat.ravel(), weights=fw.ravel(),
                              minlength=B * F * K).reshape(B, F * K)   # fact weights
            z = wfk @ cube.y.reshape(S, F * K).T                        # (B, S)
            self.both = (cs * z).sum(1)
            self.seeds = cs @ _seed_means(cube) if self.resample_seeds else None
            self.films = z.mean(1) if self.resample_films else None
            return
        si0, fi0, ki0, kmask0 = _identity(cube, B)
        self.both = _design_means(cube, si, fi, ki, kmask)
        self.seeds = (_design_means(cube, si, fi0, ki0, kmask0)
                      if self.resample_seeds else None)
        self.films = (_design_means(cube, si0, fi, ki, kmask)
                      if self.resample_films else None)


def _seed_means(cube: _Cube) -> np.ndarray:
    """Each seed's mean over films of the mean over the film's facts (complete cube)."""
    fm = cube.y.sum(-1) / cube.nk[None, :]
    return fm.mean(-1)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{x:.4g}"


def design_interval(frame: pd.DataFrame, value: str = "value", seed: str | None = "seed",
                    cluster: str | None = "film", unit: str | None = "fact",
                    lower: float | None = None, upper: float | None = None,
                    level: float = 0.95, n_resamples: int = 2000, rng_seed: int = 0,
                    method: str = DEFAULT_METHOD) -> dict:
    """Design-weighted mean with a two-way crossed cluster-bootstrap confidence interval.

    `frame` is long: one row per observation (a prompt's score, or a fact's) with a value column
    and label columns for the seed, the film (`cluster`) and the fact (`unit`, nested in the
    film: a fact is identified by its (film, fact) pair, so "director" of two films are two
    facts). A label column given as None means that level is absent (one seed: a deterministic
    method runs once; one film; one fact per film), and so does a column with a single level: it
    then contributes nothing to the interval, and the note says so.

    Estimate: the design mean, i.e. the mean over seeds of the mean over films of the mean over
    the film's facts of the mean over the fact's rows. Every seed, film and fact weighs equally
    whatever its number of rows (a film with 3 facts weighs as much as one with 6), so it can
    differ from the plain row mean for ragged data. A (seed, film) pair without rows is left out
    of that seed's mean.

    Resampling: a seeded (numpy default_rng(rng_seed)) two-way crossed cluster bootstrap with
    n_resamples >= 1000 resamples. In each, seeds are drawn with replacement and, independently,
    films with replacement, then facts with replacement within each chosen film (as many as the
    film has); rows within a fact are kept together. Cell means are precomputed in a
    seed x film x fact array with a mask for ragged fact counts, so the resamples are vectorised
    (a few ms for 2000 resamples of 3 x 5 x 5 cells). From the same draws come the seeds-only
    resample (films and facts as observed) and the films-and-facts-only resample (seeds as
    observed).

    method (the result's "interval" names the one used):

    * "t": small-sample-corrected bootstrap-t. The bootstrap variances of the seeds-only and of
      the films-and-facts-only resample are each inflated by n/(n-1), n the level's number of
      resampled clusters (seeds; films, or the facts of a single film), which undoes the
      bootstrap's (n-1)/n shrinkage; their sum V is the variance of the estimate (it counts the
      film x seed interaction in both levels, so it errs on the wide side). Interval: estimate
      -/+ t_q(df) sqrt(V), q = (1 + level)/2, with Satterthwaite degrees of freedom
      df = V^2 / (V_seeds^2 / (n_seeds - 1) + V_films^2 / (n_films - 1)) (between the smaller
      and the sum of the two levels' n - 1); clipped to [lower, upper] when given (the note
      says when it was cut).
    * "logit-t": the same V and df on the logit scale of (x - lower) / (upper - lower) (delta
      method: se = sqrt(V) / ((upper - lower) p (1 - p)) at the estimate p), mapped back, so the
      interval lies inside (lower, upper) by construction and is asymmetric near a bound (recall
      near 0 gets a longer upper arm). Needs both bounds.
    * "percentile": the (1 - level)/2 and (1 + level)/2 quantiles of the crossed-bootstrap
      replicates (inside the range of the cell means and of [lower, upper]). Kept for
      comparison only.
    * "auto" (default): "logit-t" when both lower and upper are given (recall, probabilities,
      ranks in [1, N]), "t" otherwise (perplexity > 0: lower=0; a difference: no bounds).

    Why this default: `python bench/interval_coverage.py` simulates 500 studies per scenario of
    the study's shape (3 seeds x 5 films x 5 facts x 5 prompts; also 10 films, and one film)
    from a hierarchical logit model with known population truth, and writes the coverage and
    width of each method to docs/interval_coverage.md. There the percentile interval covers
    0.82-0.94 (below 90% for a bounded continuous metric and when seed spread dominates: with
    5 films and 3 seeds it is too narrow); "t" covers 0.91-0.98, short of 95% near a bound and
    when seed spread dominates; "logit-t" covers 0.93-1.00, its lowest with 10 films and seed
    spread twice the film spread (3 seeds give the seed variance 2 degrees of freedom), at
    0.89-0.97 times the width of "t" away from the bounds. Near a bound (recall ~0.05) it is
    conservative and 1.3-1.6 times as wide as "t", the price of its asymmetric arms.

    Returns {"estimate", "low", "high", "n_seeds", "n_films", "n_facts", "n_obs", "interval",
    "level", "note"}: n_facts counts (film, fact) pairs, n_obs rows. The note (None when there
    is nothing to say) states what the interval leaves out or why it is missing:

    * one seed, one film and one fact: no level to resample; low and high are None;
    * a level with a single unit (e.g. one seed): its variation is not in the interval;
    * all cell means equal at a bound of a bounded metric (recall 0 everywhere): the exact
      Clopper-Pearson bound with the facts as independent trials (`_at_bound`), since a
      bootstrap of constant data has nothing to resample; elsewhere a stated zero-width interval
      low = high = estimate: the data show no variation at any resampled level, which is not
      proof of a zero-variance population;
    * a "t" interval cut at `lower` or `upper`.

    ValueError for empty input, missing columns or labels, NaN or infinite values, values outside
    [lower, upper], level outside (0, 1), n_resamples < 1000, an unknown method, or "logit-t"
    without both bounds.
    """
    if method not in METHODS:
        raise ValueError(f"design_interval: unknown method {method!r} (choose from {METHODS})")
    bounded = lower is not None and upper is not None
    if method == "auto":
        method = "logit-t" if bounded else "t"
    if method == "logit-t" and not bounded:
        raise ValueError("design_interval: method 'logit-t' needs both lower and upper")
    if not 0.0 < level < 1.0:
        raise ValueError(f"design_interval: level must lie in (0, 1), got {level}")
    if n_resamples < 1000:
        raise ValueError(f"design_interval: n_resamples must be >= 1000, got {n_resamples}")
    if bounded and not lower < upper:
        raise ValueError(f"design_interval: lower {lower} must be below upper {upper}")
    cube = _build_cube(frame, value, seed, cluster, unit)
    if lower is not None and cube.vmin < lower:
        raise ValueError(f"design_interval: values below lower bound {lower} (min {cube.vmin:.6g})")
    if upper is not None and cube.vmax > upper:
        raise ValueError(f"design_interval: values above upper bound {upper} (max {cube.vmax:.6g})")
    vals = cube.y[cube.w]

    est = _estimate(cube)
    if lower is not None:
        est = max(est, lower)          # guard against rounding of the means
    if upper is not None:
        est = min(est, upper)
    out = {"estimate": est, "low": None, "high": None, "n_seeds": cube.S, "n_films": cube.F,
           "n_facts": cube.n_facts, "n_obs": cube.n_obs, "interval": method, "level": level,
           "note": None}
    if cube.S == 1 and cube.F == 1 and cube.K == 1:
        out["note"] = ("undefined: one seed, one film and one fact: no seed, film or fact "
                       "variation to resample")
        return out

    notes = []
    if cube.S == 1:
        notes.append("one seed: seed-to-seed variation not included")
    if cube.F == 1:
        notes.append("one film: film-to-film variation not included")
    if cube.K == 1:
        notes.append("one fact per film: fact-level variation within films not resampled")

    if np.ptp(vals) == 0.0:
        out["low"], out["high"] = _at_bound(est, lower, upper, cube.n_facts, level, notes)
        out["note"] = "; ".join(notes)
        return out

    low, high = _interval(cube, est, level, n_resamples, rng_seed, method, lower, upper, notes)
    if lower is not None and low < lower:
        low = lower
        notes.append(f"cut at lower bound {_fmt(lower)}")
    if upper is not None and high > upper:
        high = upper
        notes.append(f"cut at upper bound {_fmt(upper)}")
    out["low"], out["high"] = float(low), float(high)
    out["note"] = "; ".join(notes) if notes else None
    return out


def _interval(cube: _Cube, est: float, level: float, B: int, rng_seed: int, method: str,
              lower: float | None, upper: float | None,
              notes: list[str]) -> tuple[float, float]:
    reps = _Replicates(cube, B, rng_seed)
    q = (1 + level) / 2
    if method == "percentile":
        both = reps.both[np.isfinite(reps.both)]
        _dropped(len(reps.both) - len(both), len(reps.both), notes)
        lo, hi = np.quantile(both, [1 - q, q])
        return float(lo), float(hi)

    parts = []                      # (inflated bootstrap variance, degrees of freedom) per level
    if reps.seeds is not None:
        n = cube.S
        parts.append((n / (n - 1) * float(np.var(reps.seeds)), n - 1))
    if reps.films is not None:
        films = reps.films[np.isfinite(reps.films)]
        _dropped(len(reps.films) - len(films), len(reps.films), notes)
        n = cube.F if cube.F > 1 else int(cube.nk[0])
        parts.append((n / (n - 1) * float(np.var(films)), n - 1))
    V = sum(v for v, _ in parts)
    if V <= 0.0:
        notes.append("zero-width interval: the resampled levels show no variation")
        return est, est
    df = V ** 2 / sum(v ** 2 / d for v, d in parts)
    t = _t_ppf(q, df)
    if method == "t":
        half = t * math.sqrt(V)
        return est - half, est + half
    # logit-t
    width = upper - lower
    p = (est - lower) / width
    g = math.log(p / (1 - p))
    half = t * math.sqrt(V) / (width * p * (1 - p))
    lo, hi = (lower + width / (1 + math.exp(-x)) for x in (g - half, g + half))
    return max(lo, lower), min(hi, upper)


def _dropped(n_bad: int, n: int, notes: list[str]) -> None:
    if n_bad:
        notes.append(f"{n_bad} of {n} resamples had no observed cell and were dropped")


def _at_bound(est: float, lower, upper, n: int, level: float, notes: list[str]
              ) -> tuple[float, float]:
    """The interval when every cell mean is the same value. At a bound of a bounded metric
    (recall 0 everywhere) a bootstrap has nothing to resample, yet "0 [0, 0]" would claim
    certainty: the exact one-sided Clopper-Pearson bound for 0 successes in n trials,
    1 - ((1 - level) / 2)^(1/n), with the n facts as the independent trials, scaled to the
    range. Elsewhere (or unbounded) a stated zero-width interval."""
    if lower is not None and upper is not None and est in (lower, upper):
        reach = (upper - lower) * (1.0 - ((1.0 - level) / 2.0) ** (1.0 / n))
        notes.append(f"all values at the bound {_fmt(est)}: exact binomial (Clopper-Pearson) "
                     f"bound with the {n} facts as independent trials")
        return (lower, lower + reach) if est == lower else (upper - reach, upper)
    notes.append(f"zero-width interval: all cell means equal {_fmt(est)}, no variation "
                 "at any resampled level")
    return est, est


def group_intervals(frame: pd.DataFrame, by: list[str], **kw) -> pd.DataFrame:
    """`design_interval` per group of the `by` columns: one row per group (sorted by the `by`
    columns) with the `by` columns and the dict's keys as columns; every group uses the same
    rng_seed, so a group's interval does not depend on the other groups. ValueError for empty
    input or a missing `by` column."""
    if len(frame) == 0:
        raise ValueError("group_intervals: empty input")
    by = list(by)
    if not by:
        raise ValueError("group_intervals: no grouping columns")
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise ValueError(f"group_intervals: no column(s) {missing}")
    rows = []
    for key, sub in frame.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **design_interval(sub, **kw)})
    return pd.DataFrame(rows)
