"""Coverage of `actunlearn.metrics.intervals.design_interval` on simulated studies with known truth.

Run (single-threaded, about a minute and a half):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/interval_coverage.py

It prints a table and writes docs/interval_coverage.md (generated: do not edit that file by hand).

Each simulated study has the study's shape: 3 seeds x F films x 5 facts x 5 prompts, seeds
crossed with films (every seed's checkpoint forgets all films), facts nested in films, prompts
nested in facts. Scores come from a hierarchical logit model,

    eta[s, f, k, p] = mu + film[f] + seed[s] + film_x_seed[s, f] + fact[f, k] + prompt[f, k, p]

with independent normal effects (sd_film, sd_seed, sd_fs, sd_fact, sd_prompt); prompt templates
are shared by all seeds. Binary recall is Bernoulli(expit(eta)); a continuous probability is
Beta(m phi, (1 - m) phi) with mean m = expit(eta). The truth an interval targets is the
population design mean: the expected design mean over new films, seeds, facts and prompts,
E[expit(mu + sd Z)] with Z standard normal and sd^2 the sum of the five variances (a
one-dimensional Gauss-Hermite integral, checked against Monte Carlo). For the one-film scenario
(a per-film breakdown) the truth is that film's expectation over new seeds, facts and prompts,
E[expit(mu + film + sd_rest Z)]. Everything is seeded.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from actunlearn.metrics.intervals import DEFAULT_METHOD, design_interval  # noqa: E402

METHODS = ("percentile", "t", "logit-t")
SEEDS, FACTS, PROMPTS = 3, 5, 5
BASE_SEED = 20260
GH_X, GH_W = np.polynomial.hermite_e.hermegauss(96)
GH_W = GH_W / GH_W.sum()


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def truth(mu: float, sd: float) -> float:
    """E[expit(mu + sd Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature."""
    return float((expit(mu + sd * GH_X) * GH_W).sum())


@dataclass
class Scenario:
    key: str
    label: str
    films: int
    mu: float
    sd_film: float = 1.0
    sd_seed: float = 0.5
    sd_fs: float = 0.3
    sd_fact: float = 0.7
    sd_prompt: float = 0.5
    kind: str = "binary"           # "binary" recall or "beta" probability
    phi: float = 10.0              # beta precision

    @property
    def sd_rest(self) -> float:
        return math.sqrt(self.sd_seed ** 2 + self.sd_fs ** 2 + self.sd_fact ** 2
                         + self.sd_prompt ** 2)

    @property
    def sd_total(self) -> float:
        return math.sqrt(self.sd_film ** 2 + self.sd_rest ** 2)

    @property
    def truth(self) -> float:
        return truth(self.mu, self.sd_total)


def solve_mu(target: float, sd: float) -> float:
    """mu with E[expit(mu + sd Z)] = target (bisection)."""
    lo, hi = -15.0, 15.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if truth(mid, sd) < target else (lo, mid)
    return (lo + hi) / 2


def simulate(sc: Scenario, rng: np.random.Generator) -> tuple[pd.DataFrame, float]:
    """One study as a long frame (one row per prompt) and the truth its interval targets."""
    S, F, K, P = SEEDS, sc.films, FACTS, PROMPTS
    film = rng.normal(0, sc.sd_film, F)
    eta = (sc.mu + film[None, :, None, None]
           + rng.normal(0, sc.sd_seed, S)[:, None, None, None]
           + rng.normal(0, sc.sd_fs, (S, F))[:, :, None, None]
           + rng.normal(0, sc.sd_fact, (F, K))[None, :, :, None]
           + rng.normal(0, sc.sd_prompt, (F, K, P))[None])
    p = expit(eta)
    if sc.kind == "binary":
        v = (rng.random(p.shape) < p).astype(float)
    else:
        v = rng.beta(p * sc.phi, (1 - p) * sc.phi)
        v = np.clip(v, 0.0, 1.0)
    s, f, k, _ = np.indices(v.shape)
    frame = pd.DataFrame({"seed": s.ravel(), "film": f.ravel(), "fact": k.ravel(),
                          "value": v.ravel()})
    target = truth(sc.mu + film[0], sc.sd_rest) if F == 1 else sc.truth
    return frame, target


def scenarios() -> list[Scenario]:
    base = Scenario("a", "", 5, 0.0)
    mu_b = solve_mu(0.05, base.sd_total)
    out = []
    for films in (5, 10):
        out += [
            Scenario(f"a{films}", "recall ~0.5, sd_film 1.0, sd_seed 0.5", films, 0.0),
            Scenario(f"b{films}", "recall ~0.05 (well forgotten)", films, mu_b),
            Scenario(f"c{films}", "probability (beta, phi 10), ~0.33", films, -1.0, kind="beta"),
            Scenario(f"d{films}", "recall ~0.5, seed spread dominates: sd_film 0.5, sd_seed 1.0",
                     films, 0.0, sd_film=0.5, sd_seed=1.0),
        ]
    out.append(Scenario("e1", "one film (per-film breakdown), recall, truth = that film's",
                        1, 0.0))
    return out


def run(sc: Scenario, n_studies: int, index: int) -> list[dict]:
    rng = np.random.default_rng([BASE_SEED, index])
    hits = {m: [] for m in METHODS}
    for i in range(n_studies):
        frame, target = simulate(sc, rng)
        for m in METHODS:
            r = design_interval(frame, lower=0.0, upper=1.0, method=m, rng_seed=i)
            if r["low"] is None:
                hits[m].append((np.nan, np.nan, np.nan, np.nan, 0.0, 1.0, 0.0, target))
                continue
            lo, hi = r["low"], r["high"]
            hits[m].append((float(lo <= target <= hi), hi - lo, float(target < lo),
                            float(target > hi), float(lo < 0.0 or hi > 1.0), 0.0,
                            float(hi == lo), target))
    rows = []
    for m in METHODS:
        a = np.array(hits[m])
        cov = float(np.nanmean(a[:, 0]))
        n_def = int(np.isfinite(a[:, 0]).sum())
        rows.append({"scenario": sc.key, "films": sc.films, "description": sc.label,
                     "truth": float(np.mean(a[:, 7])) if sc.films == 1 else sc.truth,
                     "method": m, "n": n_def, "coverage": cov,
                     "mc_se": math.sqrt(cov * (1 - cov) / max(n_def, 1)),
                     "median_width": float(np.nanmedian(a[:, 1])),
                     "miss_below": float(np.nanmean(a[:, 2])),
                     "miss_above": float(np.nanmean(a[:, 3])),
                     "outside_range": float(a[:, 4].mean()),
                     "undefined": float(a[:, 5].mean()), "zero_width": float(a[:, 6].mean())})
    return rows


def truth_check(sc: Scenario, n: int = 2_000_000) -> float:
    """Monte Carlo E[expit(mu + effects)] over new films, seeds, facts and prompts."""
    rng = np.random.default_rng([BASE_SEED, 999])
    eta = sc.mu + rng.normal(0, 1, n) * sc.sd_film + rng.normal(0, 1, n) * sc.sd_rest
    return float(expit(eta).mean())


def one_call_ms(repeats: int = 30) -> float:
    rng = np.random.default_rng([BASE_SEED, 1000])
    frame, _ = simulate(scenarios()[0], rng)
    design_interval(frame, lower=0.0, upper=1.0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        design_interval(frame, lower=0.0, upper=1.0, n_resamples=2000)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def table_md(df: pd.DataFrame) -> str:
    head = ("| scenario | films | truth | method | coverage (95%) | MC s.e. | median width | "
            "truth below low | truth above high | outside range | zero-width |")
    lines = [head, "|" + "---|" * 11]
    for r in df.itertuples():
        lines.append(f"| {r.scenario} | {r.films} | {r.truth:.4f} | {r.method} | "
                     f"{r.coverage:.3f} | {r.mc_se:.3f} | {r.median_width:.3f} | "
                     f"{r.miss_below:.3f} | {r.miss_above:.3f} | {r.outside_range:.3f} | "
                     f"{r.zero_width:.3f} |")
    return "\n".join(lines)


def rationale(df: pd.DataFrame) -> str:
    """The default method's justification, from the measured numbers."""
    order = list(dict.fromkeys(df["scenario"]))
    cov = df.pivot(index="scenario", columns="method", values="coverage").loc[order]
    wid = df.pivot(index="scenario", columns="method", values="median_width").loc[order]
    se = df.pivot(index="scenario", columns="method", values="mc_se").loc[order]
    desc = dict(zip(df["scenario"], df["description"]))
    pct_low = cov.index[cov["percentile"] < 0.90].tolist()
    rat = wid["logit-t"] / wid["t"]
    mid = [k for k in cov.index if not k.startswith("b")]
    bnd = [k for k in cov.index if k.startswith("b")]
    below = lambda m: [k for k in cov.index if cov.loc[k, m] + 2 * se.loc[k, m] < 0.95]  # noqa
    lines = [
        f"* **percentile** covers {cov['percentile'].min():.3f} to "
        f"{cov['percentile'].max():.3f}; below 90% in {', '.join(pct_low) or 'no scenario'}"
        + (". With 5 films and 3 seeds it is too narrow (the bootstrap variance of a mean of n "
           "clusters is (n-1)/n of the usual estimate, and its quantiles ignore that the spread "
           "is itself estimated from a handful of clusters)." if pct_low else "."),
        f"* **t** (per-level n/(n-1) inflation, Satterthwaite t quantile) covers "
        f"{cov['t'].min():.3f} to {cov['t'].max():.3f}; more than two MC s.e. below 95% in "
        f"{', '.join(below('t')) or 'no scenario'}.",
        f"* **logit-t** (the same variance on the logit scale, mapped back) covers "
        f"{cov['logit-t'].min():.3f} to {cov['logit-t'].max():.3f}; more than two MC s.e. "
        f"below 95% in {', '.join(below('logit-t')) or 'no scenario'}. Its median width is "
        f"{rat[mid].min():.2f} to {rat[mid].max():.2f} times that of t away from the bound "
        f"(scenarios {', '.join(mid)}) and {rat[bnd].min():.2f} to {rat[bnd].max():.2f} times "
        f"near it (recall ~0.05: {', '.join(bnd)}), where its longer upper arm is the price of "
        "staying inside [0, 1] without clipping. Its lowest coverage, "
        f"{cov['logit-t'].min():.3f} in {cov['logit-t'].idxmin()} "
        f"({desc[cov['logit-t'].idxmin()]}), is where the 3 seeds are the weak level: their "
        "variance is estimated with 2 degrees of freedom, and when it comes out small by chance "
        "the Satterthwaite df lean on the films' larger df; more seeds, not more films, is the "
        "remedy.",
        "",
    ]
    ok = not below("logit-t") and (df["outside_range"] == 0).all()
    if ok:
        lines.append(
            "logit-t is the default for bounded metrics because its coverage is within two MC "
            "s.e. of 95% or above in every scenario"
            + (" (t's is not: " + ", ".join(below("t")) + ")" if below("t") else
               " (as is t's, but t needs clipping at the bounds)")
            + ", it lies inside the range by construction, and it is "
            + ("no wider than t" if (rat[mid] <= 1.0).all() else "about as wide as t")
            + " away from the bound; the percentile interval stays available "
            "(`method=\"percentile\"`) for comparison only.")
    else:
        lines.append(
            "**Warning: these numbers no longer support the default** (logit-t falls short of "
            f"95% by more than two MC s.e. in {', '.join(below('logit-t')) or '-'}, or an "
            "interval left the range): revisit `actunlearn.metrics.intervals.DEFAULT_METHOD`.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-studies", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "docs" / "interval_coverage.md"))
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    scs = scenarios()
    rows = []
    for i, sc in enumerate(scs):
        t0 = time.perf_counter()
        rows += run(sc, args.n_studies, i)
        print(f"  {sc.key}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    df = pd.DataFrame(rows)
    checks = [(sc.key, sc.truth, truth_check(sc)) for sc in scs if sc.films > 1
              and sc.key.endswith("5")]
    call_ms = one_call_ms()
    total_s = time.perf_counter() - t_start

    pd.set_option("display.width", 200)
    print(df[["scenario", "films", "truth", "method", "n", "coverage", "mc_se", "median_width",
              "miss_below", "miss_above", "outside_range", "zero_width"]]
          .to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"one design_interval call (3 seeds x 5 films x 5 facts x 5 prompts, 2000 resamples): "
          f"{call_ms:.1f} ms; total {total_s:.0f} s")

    scen_lines = "\n".join(f"* **{sc.key}**: {sc.films} film(s); {sc.label}; mu {sc.mu:.3f}, "
                           f"sd film {sc.sd_film}, seed {sc.sd_seed}, film x seed {sc.sd_fs}, "
                           f"fact {sc.sd_fact}, prompt {sc.sd_prompt}" for sc in scs
                           if not sc.key.endswith("10"))
    check_lines = ", ".join(f"{k}: {q:.4f} vs {mc:.4f}" for k, q, mc in checks)
    md = f"""<!-- Generated by `python bench/interval_coverage.py`; do not edit by hand. -->
# Coverage of the design intervals

Generated by `python bench/interval_coverage.py` (do not edit by hand): {args.n_studies}
simulated studies per scenario, seeded (base seed {BASE_SEED}); total run time {total_s:.0f} s
single-threaded.

## Design

Each simulated study has the study's shape: {SEEDS} seeds x F films x {FACTS} facts x {PROMPTS}
prompts, seeds crossed with films, facts nested in films, prompts nested in facts. Scores come
from a hierarchical logit model

    eta[s, f, k, p] = mu + film[f] + seed[s] + film_x_seed[s, f] + fact[f, k] + prompt[f, k, p]

with independent normal effects; binary recall is Bernoulli(expit(eta)), a continuous
probability is Beta(m phi, (1 - m) phi) with mean m = expit(eta). The truth is the population
design mean, E[expit(mu + sd Z)] over new films, seeds, facts and prompts (Gauss-Hermite;
Monte Carlo check, quadrature vs 2e6 draws: {check_lines}), not the sample's own mean; for the
one-film scenario it is the drawn film's own expectation over new seeds, facts and prompts
(the table shows its average). Scenarios (the same again with 10 films: a10 to d10):

{scen_lines}

Every interval is `design_interval(frame, lower=0, upper=1, method=..., rng_seed=study)` with
2000 resamples of the two-way crossed cluster bootstrap (seeds and films resampled
independently, facts within each chosen film). Coverage is the share of 95% intervals that
contain the truth, with its Monte Carlo standard error sqrt(c (1 - c) / n); "truth below low" and
"truth above high" split the misses; "outside range" is the share of intervals reaching outside
[0, 1] (it must be 0).

## Results

{table_md(df)}

One `design_interval` call on 3 seeds x 5 films x 5 facts x 5 prompts with 2000 resamples takes
{call_ms:.1f} ms (median of 30, this machine).

## Default

The library's default is `method="{DEFAULT_METHOD}"`: **logit-t** when both bounds are given
(recall, probabilities, ranks in [1, N]), **t** otherwise (one bound, e.g. perplexity > 0, or
none). Measured here:

{rationale(df)}
"""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
