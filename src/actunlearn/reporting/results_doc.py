"""docs/results.md, generated from a study's result tables: the verdicts are computed, never
typed, so the prose cannot go stale or disagree with the numbers.

The verdict criterion, stated once: a method *forgets* when its held-out forget recall is at most
the retain reference's + 0.05 (without a reference: at most 0.05); it *keeps utility* when its
held-out neighbour and retain recall are each at least 90% of the base model's. The mask
question is read from the paired differences (masked_lora minus a control, by seed, film and
fact): an interval that excludes 0 is a difference the study detects.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
from tabulate import tabulate


FORGET_MARGIN = 0.05
UTILITY_SHARE = 0.9
CONTROLS = ("random_mask_lora", "lora")


def cell(row) -> str:
    """'estimate [low, high]' to 3 significant digits (the estimate alone without an interval)."""
    if row is None:
        return "-"
    if pd.isna(row.low):
        return f"{row.estimate:.3g}"
    return f"{row.estimate:.3g} [{row.low:.3g}, {row.high:.3g}]"


def _headline(results: pd.DataFrame) -> pd.DataFrame:
    held = results[(results.film == "all") & (results.split == "held_out")]
    return held.set_index(["method", "metric"])


def _get(table: pd.DataFrame, method: str, metric: str):
    return table.loc[(method, metric)] if (method, metric) in table.index else None


def _count(n, noun: str) -> str:
    n = int(n)
    return f"{n} {noun}" + ("" if n == 1 else "s")


def verdicts(results: pd.DataFrame, differences: pd.DataFrame) -> list[str]:
    """Sentences computed from one model's `summary/methods.parquet` and `differences.parquet`."""
    h = _headline(results)
    methods = [m for m in dict.fromkeys(h.index.get_level_values(0))
               if m not in ("base", "retain_ref")]
    base = _get(h, "base", "forget_recall")
    ref = _get(h, "retain_ref", "forget_recall")
    if base is None or not methods:
        return ["No unlearned checkpoint was evaluated."]
    forget_bar = (ref.estimate if ref is not None else 0.0) + FORGET_MARGIN
    lines = [f"Held-out forget recall: base {cell(base)}"
             + (f", retain reference {cell(ref)}" if ref is not None else "")
             + f" (design mean over {_count(base.n_films, 'forget film')} and "
               f"{_count(base.n_facts, 'fact')} the model knows). Criterion: forget recall at most "
             + (f"the reference's + {FORGET_MARGIN}" if ref is not None
                else f"{FORGET_MARGIN} (no retain reference)")
             + f", neighbour and retain recall at least {UTILITY_SHARE:.0%} of the base model's."]
    meets, fails = [], []
    for m in methods:
        f, n, r = (_get(h, m, k) for k in ("forget_recall", "neighbour_recall", "retain_recall"))
        if f is None:
            continue
        reasons = []
        if f.estimate > forget_bar:
            reasons.append(f"forget {cell(f)}")
        for name, metric, row in (("neighbours", "neighbour_recall", n),
                                  ("retain", "retain_recall", r)):
            b = _get(h, "base", metric)
            if row is not None and b is not None and row.estimate < UTILITY_SHARE * b.estimate:
                reasons.append(f"{name} {cell(row)} vs base {b.estimate:.3g}")
        (fails if reasons else meets).append((m, f, n, reasons))
    if meets:
        lines.append("Meet the criterion: " + "; ".join(
            f"{m} (forget {cell(f)}, neighbours {cell(n)})" for m, f, n, _ in meets) + ".")
    else:
        lines.append("No method meets the criterion.")
    if fails:
        lines.append("Miss it: " + "; ".join(f"{m} ({', '.join(r)})" for m, _, _, r in fails)
                     + ".")
    exposure = [(m, _get(h, m, "exposure_prob")) for m in ["base", "retain_ref", *methods]]
    exposure = [(m, e) for m, e in exposure if e is not None]
    leaks = leak_line(results)
    if leaks:
        lines.append(leaks)
    if exposure:
        lines.append("Probability of the forget titles in held-out recommendation contexts: "
                     + ", ".join(f"{m} {cell(e)}" for m, e in exposure) + ".")
    d = differences.set_index(["method", "metric"]) if len(differences) else None
    for control in CONTROLS:
        if d is None or (control, "forget_recall") not in d.index:
            continue
        parts = []
        for metric, label in (("forget_recall", "forget"), ("neighbour_recall", "neighbours"),
                              ("retain_recall", "retain"), ("exposure_prob", "exposure")):
            if (control, metric) not in d.index:
                continue
            row = d.loc[(control, metric)]
            if pd.isna(row.low):
                parts.append(f"{label} {row.estimate:+.3g} (no interval: one seed, film and fact)")
            elif row.low == row.high:
                parts.append(f"{label} {row.estimate:+.3g} (no variation)")
            else:
                detected = row.low > 0 or row.high < 0
                parts.append(f"{label} {row.estimate:+.3g} [{row.low:+.3g}, {row.high:+.3g}]"
                             + ("" if detected else " (not detectable)"))
        lines.append(f"masked_lora minus {control}, paired by seed, film and fact: "
                     + "; ".join(parts) + ".")
    return lines


def leak_line(results: pd.DataFrame) -> str | None:
    """Where each method leaks under distribution shift: the shift sets on which its forget
    recall (or, for alias and multi-hop, its share of answers naming the forget film: "bridge")
    has a 95% interval entirely above the retain reference's estimate on the same set + the
    criterion's margin (`FORGET_MARGIN`, as for the headline verdict): credibly more than the
    criterion allows. None without shift sets or a retain reference."""
    rows = results[(results.film == "all") & results.metric.isin(["shift_forget_recall",
                                                                  "shift_forget_bridge"])]
    ref = rows[rows.method == "retain_ref"].set_index(["metric", "split"]).estimate + FORGET_MARGIN
    if rows.empty or ref.empty:
        return None
    leaks: dict[str, list[str]] = {}
    for r in rows[~rows.method.isin(["base", "retain_ref"])].itertuples(index=False):
        leaks.setdefault(r.method, [])
        goal = ref.get((r.metric, r.split))
        if goal is not None and pd.notna(r.low) and r.low > goal:
            leaks[r.method].append(r.split + (" (bridge)" if r.metric.endswith("bridge") else ""))
    found = [f"{m}: {', '.join(sets)}" for m, sets in leaks.items() if sets]
    clean = [m for m, sets in leaks.items() if not sets]
    return (f"Leaks under shift (forget recall's 95% interval above the retain reference's + "
            f"{FORGET_MARGIN} on the set; bridge: answers naming the forget film): "
            + ("; ".join(found) or "none")
            + (f"; no leak found: {', '.join(clean)}" if clean else "") + ".")


def attack_line(attacks: pd.DataFrame | None) -> str | None:
    """Which attacks revert which method's unlearning (the audit's `attacks` table): those under
    which its forget recall has a 95% interval entirely above both its own estimate without
    attack and the retain reference's estimate under the attack, + `FORGET_MARGIN` (no
    reference: 0). An attack under which the base model itself is not above the reference's +
    the margin cannot show a leak: named apart. None without the table."""
    if attacks is None or attacks.empty or "forget_low" not in attacks:
        return None
    rows = attacks.set_index(["method", "attack"])
    ref = rows.ref_forget.fillna(0.0)
    base = attacks[attacks.method == "base"].set_index("attack").forget
    blind = sorted(a for a in base.index
                   if a != "none" and not base[a] > ref.get(("base", a), 0.0) + FORGET_MARGIN)
    found: dict[str, list[str]] = {}
    for (method, attack), r in rows.iterrows():
        if method in ("base", "retain_ref") or attack == "none" or attack in blind:
            continue
        bar = max(r.none_forget if pd.notna(r.none_forget) else 0.0, ref[(method, attack)])
        if pd.notna(r.forget_low) and r.forget_low > bar + FORGET_MARGIN:
            found.setdefault(method, []).append(attack)
    return (f"Attacks that revert unlearning (forget recall's 95% interval above the method's "
            f"own without attack and the retain reference's under it, + {FORGET_MARGIN}): "
            + ("; ".join(f"{m}: {', '.join(a)}" for m, a in found.items()) or "none")
            + (f". The base model fails {', '.join(blind)}: they cannot show a leak" if blind
               else "") + ".")


def attack_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """attacks as method x attack of forget recall cells (none first)."""
    if table is None or table.empty or "forget_ci" not in table:
        return table
    out = table.pivot_table(index="method", columns="attack", values="forget_ci",
                            aggfunc="first", sort=False)
    order = ["none"] + [a for a in dict.fromkeys(table.attack) if a != "none"]
    return out[[a for a in order if a in out.columns]].reset_index()


def probe_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """knowledge_readouts' own probe as method x layer of forget accuracy cells."""
    if table is None or table.empty or "forget_ci" not in table:
        return table
    own = table[(table.readout == "probe") & (table.probe == "own")]
    out = own.pivot_table(index="method", columns="layer", values="forget_ci", aggfunc="first",
                          sort=False)
    out.columns = [f"layer {c}" for c in out.columns]
    return out.reset_index()


def shift_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """shift_robustness as method x shift set of forget recall cells (base and retain_ref
    first, as in the table)."""
    if table is None or table.empty or "forget_ci" not in table:
        return table
    out = table.pivot_table(index="method", columns="shift_set", values="forget_ci",
                            aggfunc="first", sort=False)
    return out[list(dict.fromkeys(table.shift_set))].reset_index()


def markdown_table(frame: pd.DataFrame) -> str:
    rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return tabulate(rows, headers=list(frame.columns), tablefmt="pipe", floatfmt=".3g",
                    missingval="-")


HEADLINE_METRICS = {"forget_recall": "forget", "neighbour_recall": "neighbours",
                    "retain_recall": "retain", "exposure_prob": "exposure"}


def headline_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per checkpoint kind (base, retain_ref, each method): its held-out design means over
    the forget set (film "all") of forget, neighbour and retain recall and forget-title exposure,
    with the number of seeds behind them; intervals are in the full tables."""
    h = _headline(results)
    rows = []
    for m in dict.fromkeys(h.index.get_level_values(0)):
        row = {"method": m}
        for metric, label in HEADLINE_METRICS.items():
            got = _get(h, m, metric)
            row[label] = None if got is None else float(f"{got.estimate:.3g}")
        seeds = _get(h, m, "forget_recall")
        row["seeds"] = None if seeds is None else int(seeds.n_seeds)
        rows.append(row)
    return pd.DataFrame(rows)


BEGIN, END = "<!-- verdict:begin -->", "<!-- verdict:end -->"
TABLE_BEGIN, TABLE_END = "<!-- headline:begin -->", "<!-- headline:end -->"
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
README_SKIP = ("- Miss it:", "- Probability of the forget titles", "- masked_lora minus")


def readme_block(results_md: str) -> str:
    """The README's results block from docs/results.md: the run line, the metric-only rerun line,
    and under each model's heading its headline table and its first verdict sentences, less the
    per-method detail (which methods miss the criterion and why, exposure, paired differences),
    which stays in docs/results.md."""
    lines, out, model = results_md.splitlines(), [], None
    run = [line for line in lines if line.startswith(("Run: ", "Metric-only rerun"))]
    inside = False
    for line in lines:
        if line.startswith("## "):
            model = line[3:]
        elif line in (BEGIN, TABLE_BEGIN):
            inside = True
            if line == TABLE_BEGIN:
                out.append(f"**{model}** (held-out, design means; intervals in docs/results.md)")
                out.append("")
        elif line in (END, TABLE_END):
            inside = False
            out.append("")
        elif inside and not line.startswith(README_SKIP):
            out.append(line)
    return "\n".join([*run, "", *out]).strip()


def fill_readme(readme: str, results_md: str) -> str:
    """`readme` with the text between its results markers replaced by `readme_block`."""
    if README_BEGIN not in readme or README_END not in readme:
        raise ValueError(f"README lacks the markers {README_BEGIN} / {README_END}")
    head, rest = readme.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_BEGIN}\n{readme_block(results_md)}\n{README_END}{tail}"


def main(argv: list[str] | None = None) -> None:
    """Run by `make study` after the study:
    `python -m actunlearn.reporting.results_doc record docs/study_runs.csv SECONDS_FILE CORES`
    appends the run's wall time; `python -m actunlearn.reporting.results_doc README.md
    docs/results.md` fills the README's results block from the generated results."""
    import sys
    args = argv or sys.argv[1:]
    if args[0] == "record":
        record_run(args[1], args[2], int(args[3]), *args[4:5])
        return
    readme, results = (Path(p) for p in args)
    readme.write_text(fill_readme(readme.read_text(), results.read_text()))


TABLES = {"Methods": "method_summary", "Per forget film": "method_films",
          "Does the mask help? (paired differences)": "method_differences",
          "Forget quality and membership inference": "forget_quality",
          "Can each shift set show leakage? (base model)": "shift_bar",
          "Robustness under distribution shift (forget recall)": "shift_robustness",
          "Relearning attack": "relearning",
          "Is it really gone? Forget recall under attack": "attacks",
          "Is it really gone? Own-probe accuracy on forget questions, by layer":
              "knowledge_readouts",
          "Localization ground truth (planted facts)": "localization",
          "Knowledge check": "knowledge",
          "Tuning (validation films)": "tuning"}
TUNING_TITLE = "Tuning (validation films)"
SHIFT_TITLE = "Robustness under distribution shift (forget recall)"
PIVOTS = {SHIFT_TITLE: shift_pivot,   # tables shown reshaped in results.md
          "Is it really gone? Forget recall under attack": attack_pivot,
          "Is it really gone? Own-probe accuracy on forget questions, by layer": probe_pivot}
RUNS_COLUMNS = ["commit", "date", "machine", "cores", "seconds", "note"]


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def machine() -> str:
    return f"{platform.machine()} {platform.system()} {os.cpu_count()} CPUs"


def run_metadata(cores: int, runs: pd.DataFrame) -> dict:
    """This run's commit, date, machine and cores, and its wall time when `make study` recorded
    one for this commit (the last row of the runs table)."""
    meta = {"commit": commit(), "date": date.today().isoformat(), "machine": machine(),
            "cores": cores}
    mine = runs[runs.commit == meta["commit"]]
    if len(mine):
        meta["wall time"] = f"{int(mine.seconds.iloc[-1]) / 60:.1f} min (make study)"
    elif len(runs):  # regenerated at a later commit: the run the artifacts come from
        last = runs.iloc[-1]
        meta["wall time"] = f"{int(last.seconds) / 60:.1f} min (make study at {last.commit})"
    return meta


def record_run(runs_csv: str | Path, seconds_file: str | Path, cores: int, note: str = "") -> None:
    """Append this commit's `make study` wall time (from `seconds_file`) to the runs table."""
    runs = read_runs(runs_csv)
    row = {"commit": commit(), "date": date.today().isoformat(), "machine": machine(),
           "cores": cores, "seconds": int(Path(seconds_file).read_text()), "note": note}
    pd.concat([runs, pd.DataFrame([row])], ignore_index=True).to_csv(runs_csv, index=False)


def read_runs(runs_csv: str | Path | None = None) -> pd.DataFrame:
    """The recorded runs (`RUNS_COLUMNS`); none when there is no file."""
    if runs_csv is None or not Path(runs_csv).exists():
        return pd.DataFrame(columns=RUNS_COLUMNS)
    return pd.read_csv(runs_csv, dtype={"commit": str, "note": str}, keep_default_na=False)


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every recorded `make study` run with its wall time relative to the first (the baseline)."""
    if runs.empty:
        return runs
    out = runs.copy()
    out["minutes"] = (out.seconds / 60).round(1)
    out["vs first"] = (out.seconds / out.seconds.iloc[0]).round(3)
    return out[["commit", "date", "machine", "cores", "seconds", "minutes", "vs first", "note"]]


def read_models(models: list[str], results: list[str], differences: list[str],
                tables_dir: str = "results/{model}/tables") -> dict[str, dict]:
    """render()'s `models` argument from each model's summary files and result tables (CSV)."""
    return {model: {"results": pd.read_parquet(r), "differences": pd.read_parquet(d),
                    "tables": {title: pd.read_csv(f"{tables_dir.format(model=model)}/{name}.csv")
                               for title, name in TABLES.items()}}
            for model, r, d in zip(models, results, differences)}


def rerun_line(rerun: pd.DataFrame) -> str:
    """The measured cost of a metric-only change (bench/metric_rerun.py: docs/rerun_times.csv),
    one clause per changed key: its values in order, the jobs and seconds of each, the rules."""
    parts = []
    for key, g in rerun.groupby("key", sort=False):
        rules = sorted({r for listed in g.rules for r in listed.split(", ")})
        parts.append(f"`{key}` set to {', then '.join(map(str, g.value))} reruns "
                     f"{', '.join(map(str, g.jobs))} jobs in "
                     f"{', '.join(f'{s:.0f} s' for s in g.seconds)} (rules: {', '.join(rules)})")
    last = rerun.iloc[-1]
    return (f"Metric-only reruns, measured on the finished default study (commit {last.commit}, "
            f"{last.cores} cores): " + "; ".join(parts) + ".")


def searched_spaces(table: pd.DataFrame) -> pd.DataFrame:
    """Per searched method of a tuning table: its number of settings and the values each setting
    took (from the trials' `settings` JSON: what the committed sweep searched)."""
    rows = []
    trials = table[~table.method.isin(["base", "retain_ref"])]
    for method, g in trials.groupby("method", sort=False):
        values: dict[str, list] = {}
        for settings in g.settings:
            for key, value in json.loads(settings).items():
                values.setdefault(key, [])
                if value not in values[key]:
                    values[key].append(value)
        rows.append({"method": method, "settings": g.setting.nunique(),
                     "space": "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in values.items())})
    return pd.DataFrame(rows)


def tuning_section(settings: dict[str, dict], tables: dict[str, pd.DataFrame | None],
                   tune_runs: pd.DataFrame | None) -> list[str]:
    """The tuning section: per model (`settings`: model -> {"enabled": ...}) the search its
    committed trials ran, the criterion's threshold, the chosen settings, and the recorded sweep
    times."""
    out = ["## Tuning", "",
           "Every method of a model gets the same search: a grid of the same number of settings "
           "(`tuning.spaces`), the same step budget, the tuning seeds, on the validation films "
           "(catalog roles `val_forget`, `val_neighbour`), which are disjoint from the forget "
           "films and from every film that shares a director or star with one. Tuning's data is a "
           "view of the study without any test film: no prompt, corpus line or answer of a forget "
           "film or a neighbour is in it, checked on every table of the view and on every trial's "
           "training manifest (`tuning/validation.check_disjoint`; tests/test_tuning.py, "
           "tests/test_workflow.py). Criterion: held-out validation forget recall at most the "
           "validation retain reference's + `tuning.margin` (a model without one: the margin), then "
           "the highest utility (mean of held-out validation-neighbour and retain recall); if no "
           "setting qualifies, the lowest forget recall (`qualified` false). Controls in "
           "`tuning.follow` run with their leader's choice. The chosen settings are committed in "
           "config/tuned/ and read by the study; the study never runs the sweep.", ""]
    for model, cfg in settings.items():
        out += [f"### {model}", ""]
        if not cfg["enabled"]:
            out += ["Not tuned (`tuning.enabled: false`): the methods ran at their configured "
                    "settings.", ""]
            continue
        table = tables.get(model)
        if table is None or table.empty or ("note" in table and table.note.notna().all()):
            out += ["No tuning record: the study ran the configured settings.", ""]
            continue
        threshold = table.threshold.dropna()
        out += ["The search of the committed sweep (config/tuned/; criterion threshold "
                f"{threshold.iloc[0]:.3g}):" if len(threshold) else "The search:", "",
                markdown_table(searched_spaces(table)), ""]
        chosen = table[table.chosen.fillna(False).astype(bool) | table.method.isin(["base", "retain_ref"])]
        out += ["Chosen settings (validation films, held-out templates; base and retain_ref: the "
                "controls):", "", markdown_table(chosen[[c for c in (
                    "method", "settings", "forget_held_out", "neighbour_held_out",
                    "retain_held_out", "utility", "threshold", "qualified", "effective_params")
                    if c in chosen]]), "",
                f"Every trial: results/tables/tuning.csv (SQL table `tuning`), committed as "
                f"config/tuned/{model}.trials.csv.", ""]
    if tune_runs is not None and not tune_runs.empty:
        out += ["Wall time of the sweep (`make tune` on a fresh clone: every job `snakemake "
                "tune` needs, the base models and knowledge checks included; docs/tune_runs.csv):",
                "", markdown_table(runs_table(tune_runs)), ""]
    return out


def render(models: dict[str, dict], meta: dict, runs: pd.DataFrame | None = None,
           rerun: pd.DataFrame | None = None, tuning: dict[str, dict] | None = None,
           tune_runs: pd.DataFrame | None = None) -> str:
    """The whole document: run metadata, then per model its verdicts and tables, the tuning
    section (`tuning`: model -> its tuning settings; `tune_runs`: recorded sweep times), then the
    wall time of every recorded run side by side (`runs`, see `runs_table`). `models`:
    name -> {"results", "differences", "tables": {title: DataFrame}}."""
    out = ["<!-- Generated by rule write_results (src/actunlearn/reporting/results_doc.py) from the study's "
           "result tables; do not edit by hand. -->", "# Results of the default study", "",
           "Run: " + ", ".join(f"{k} {v}" for k, v in meta.items()) + ".", "",
           "Headline columns are measured on prompts no method trained on (held-out templates "
           "and held-out recommendation contexts); `_train` columns are the training templates, "
           "in every trained method's data. Cells: design mean over seeds, forget films and "
           "facts with its 95% crossed cluster-bootstrap interval (coverage: "
           "[interval_coverage.md](interval_coverage.md)).", ""]
    if rerun is not None and not rerun.empty:
        out += [rerun_line(rerun), ""]
    for name, parts in models.items():
        out += [f"## {name}", "", TABLE_BEGIN, markdown_table(headline_table(parts["results"])),
                TABLE_END, "", BEGIN]
        out += [f"- {line}" for line in verdicts(parts["results"], parts["differences"])]
        attacked = attack_line(parts["tables"].get("Is it really gone? Forget recall under attack"))
        if attacked:
            out.append(f"- {attacked}")
        out += [END, ""]
        for title, frame in parts["tables"].items():
            if title == TUNING_TITLE:
                continue   # its own section below
            if frame is not None and "note" in frame.columns and frame.note.isna().all():
                frame = frame.drop(columns="note")   # a note column with no note (tuning)
            if frame is None or frame.empty or "note" in frame.columns:
                continue
            if title in PIVOTS:
                frame = PIVOTS[title](frame)
            out += [f"### {title}", "", markdown_table(frame), ""]
    if tuning:
        out += tuning_section(tuning, {n: p["tables"].get(TUNING_TITLE) for n, p in models.items()},
                              tune_runs)
    if runs is not None and not runs.empty:
        out += ["## Wall time of the default study", "",
                "Each `make study` on a fresh clone records its wall time (docs/study_runs.csv); "
                "`vs first` is the ratio to the first recorded run.", "",
                markdown_table(runs_table(runs)), ""]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
