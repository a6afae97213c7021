"""docs/results.md and the README block are generated: verdicts follow the numbers."""
import pandas as pd
import pytest

from actunlearn.reporting.results_doc import README_BEGIN, README_END, fill_readme, render, verdicts


def _results(rows):
    out = []
    for method, metric, estimate, low, high in rows:
        out.append({"method": method, "metric": metric, "split": "held_out", "film": "all",
                    "estimate": estimate, "low": low, "high": high, "n_seeds": 3, "n_films": 5,
                    "n_facts": 25})
    return pd.DataFrame(out)


RESULTS = _results([
    ("base", "forget_recall", 1.0, 0.9, 1.0), ("base", "neighbour_recall", 0.9, 0.8, 1.0),
    ("base", "retain_recall", 0.9, 0.8, 1.0),
    ("retain_ref", "forget_recall", 0.1, 0.0, 0.2),
    ("masked_lora", "forget_recall", 0.12, 0.05, 0.2),
    ("masked_lora", "neighbour_recall", 0.85, 0.8, 0.9),
    ("masked_lora", "retain_recall", 0.88, 0.8, 0.9),
    ("npo", "forget_recall", 0.0, 0.0, 0.1), ("npo", "neighbour_recall", 0.2, 0.1, 0.3),
    ("npo", "retain_recall", 0.3, 0.2, 0.4)])
DIFFS = pd.DataFrame([{"method": "lora", "metric": "forget_recall", "estimate": -0.2,
                       "low": -0.3, "high": -0.1},
                      {"method": "lora", "metric": "neighbour_recall", "estimate": 0.05,
                       "low": -0.02, "high": 0.1}])


def test_verdicts_follow_the_numbers():
    lines = verdicts(RESULTS, DIFFS)
    text = "\n".join(lines)
    assert "Meet the criterion: masked_lora" in text
    assert "Miss it: npo (neighbours 0.2 [0.1, 0.3] vs base 0.9, retain" in text
    assert "masked_lora minus lora" in text and "forget -0.2 [-0.3, -0.1];" in text
    assert "neighbours +0.05 [-0.02, +0.1] (not detectable)" in text
    # a method above the reference + 0.05 does not forget
    worse = RESULTS.copy()
    worse.loc[(worse.method == "masked_lora") & (worse.metric == "forget_recall"), "estimate"] = 0.2
    assert "No method meets the criterion." in verdicts(worse, DIFFS)


def test_readme_block_is_filled_from_the_generated_results():
    doc = render({"testbed": {"results": RESULTS, "differences": DIFFS, "tables": {}}},
                 {"commit": "abc1234", "cores": 2})
    readme = f"# x\n\nintro\n{README_BEGIN}\nold numbers\n{README_END}\nrest\n"
    filled = fill_readme(readme, doc)
    assert "old numbers" not in filled and "Run: commit abc1234, cores 2." in filled
    assert "**testbed**" in filled and "Meet the criterion: masked_lora" in filled
    assert filled.startswith("# x\n\nintro\n") and filled.endswith(f"{README_END}\nrest\n")
    assert fill_readme(filled, doc) == filled  # idempotent
    with pytest.raises(ValueError, match="markers"):
        fill_readme("# no markers\n", doc)


def test_wall_times_are_recorded_and_shown_side_by_side(tmp_path, monkeypatch):
    """`make study` appends each run's wall time; results.md shows every run with its ratio to the
    first, and this run's wall time in the run line."""
    from actunlearn.reporting import results_doc
    runs_csv, seconds = tmp_path / "runs.csv", tmp_path / "seconds.txt"
    assert results_doc.read_runs(runs_csv).empty and results_doc.read_runs().empty
    monkeypatch.setattr(results_doc, "commit", lambda: "aaaaaaa")
    seconds.write_text("1200\n")
    results_doc.record_run(runs_csv, seconds, 2)
    monkeypatch.setattr(results_doc, "commit", lambda: "bbbbbbb")
    seconds.write_text("900\n")
    results_doc.main(["record", str(runs_csv), str(seconds), "2"])
    runs = results_doc.read_runs(runs_csv)
    assert runs.commit.tolist() == ["aaaaaaa", "bbbbbbb"] and runs.seconds.tolist() == [1200, 900]
    assert results_doc.runs_table(runs)["vs first"].tolist() == [1.0, 0.75]
    meta = results_doc.run_metadata(2, runs)
    assert meta["commit"] == "bbbbbbb" and meta["wall time"] == "15.0 min (make study)"
    doc = render({"testbed": {"results": RESULTS, "differences": DIFFS, "tables": {}}}, meta, runs)
    section = doc.split("## Wall time of the default study")[1]
    assert "| aaaaaaa" in section and "| bbbbbbb" in section and "0.75" in section
    assert "wall time 15.0 min" in doc
    # regenerated at a later commit: the last recorded run's time, saying which commit ran it
    monkeypatch.setattr(results_doc, "commit", lambda: "ccccccc")
    assert results_doc.run_metadata(2, runs)["wall time"] == "15.0 min (make study at bbbbbbb)"
    # no recorded run: no section and no wall time
    meta = results_doc.run_metadata(2, results_doc.read_runs())
    assert "wall time" not in meta
    assert "Wall time" not in render({"testbed": {"results": RESULTS, "differences": DIFFS,
                                                  "tables": {}}}, meta, results_doc.read_runs())


def test_headline_table_and_rerun_line_reach_the_readme():
    """The README block carries each model's short headline table (from the results, 3
    significant digits) and the measured metric-only rerun, and leaves the detail out."""
    from actunlearn.reporting.results_doc import headline_table, readme_block, rerun_line
    table = headline_table(RESULTS).set_index("method")
    assert table.loc["masked_lora", "forget"] == 0.12 and table.loc["npo", "retain"] == 0.3
    assert pd.isna(table.loc["retain_ref", "neighbours"]) and table.loc["base", "seeds"] == 3
    rerun = pd.DataFrame([{"commit": "abc1234", "cores": 2, "key": "evaluate.drift.rbo_p",
                           "value": 0.8, "jobs": 7, "rules": "build_tables, write_results",
                           "seconds": 41.2},
                          {"commit": "abc1234", "cores": 2, "key": "evaluate.drift.rbo_p",
                           "value": 0.9, "jobs": 8, "rules": "all, write_results",
                           "seconds": 44.6}])
    assert ("`evaluate.drift.rbo_p` set to 0.8, then 0.9 reruns 7, 8 jobs in 41 s, 45 s "
            "(rules: all, build_tables, write_results)") in rerun_line(rerun)
    doc = render({"testbed": {"results": RESULTS, "differences": DIFFS, "tables": {}}},
                 {"commit": "abc1234"}, None, rerun)
    block = readme_block(doc)
    assert block.startswith("Run: commit abc1234.") and "Metric-only reruns" in block
    assert "| masked_lora" in block and "**testbed**" in block
    assert "masked_lora minus" not in block and "Held-out forget recall" in block


def test_readme_stays_short_with_its_generated_block():
    """The README, with its results block filled from the committed docs/results.md, stays under
    8 KB, and its block is exactly what docs/results.md gives (nothing typed by hand)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    readme, results = (root / "README.md").read_text(), (root / "docs/results.md").read_text()
    filled = fill_readme(readme, results)
    assert len(filled.encode()) < 8 * 1024
    assert filled == readme, "README's results block is stale: run make study (or fill_readme)"


def test_the_tuning_section_states_the_search_and_shows_the_chosen_rows():
    trials = pd.DataFrame([
        dict(method="base", settings="{}", forget_held_out=0.9, neighbour_held_out=0.9,
             retain_held_out=0.9, utility=0.9, threshold=None, chosen=None, qualified=None,
             effective_params=None, note=None),
        dict(method="npo", settings='{"learning_rate": 0.001}', forget_held_out=0.01,
             neighbour_held_out=0.8, retain_held_out=0.85, utility=0.825, threshold=0.06,
             chosen=True, qualified=True, effective_params=10240, note=None),
        dict(method="npo", settings='{"learning_rate": 0.004}', forget_held_out=0.0,
             neighbour_held_out=0.2, retain_held_out=0.3, utility=0.25, threshold=0.06,
             chosen=False, qualified=None, effective_params=10240, note=None)])
    trials["setting"] = [-1, 0, 1]
    tuning = {"testbed": {"enabled": True}, "smollm2": {"enabled": False}}
    runs = pd.DataFrame([{"commit": "abc", "date": "2026-12-04", "machine": "m", "cores": 2,
                          "seconds": 600, "note": "sweep"}])
    models = {m: {"results": RESULTS, "differences": DIFFS,
                  "tables": {"Tuning (validation films)": trials if m == "testbed" else None}}
              for m in tuning}
    doc = render(models, {"commit": "abc"}, tuning=tuning, tune_runs=runs)
    section = doc.split("## Tuning", 1)[1]
    assert "learning_rate: 0.001, 0.004" in section and "Not tuned" in section
    assert "threshold 0.06" in section
    assert '{"learning_rate": 0.001}' in section and '{"learning_rate": 0.004}' not in section
    assert "600" in section and "no prompt, corpus line or answer of a forget film" in section


def test_leak_line_names_the_sets_above_the_reference_and_the_pivot_keeps_the_order():
    from actunlearn.reporting.results_doc import leak_line, shift_pivot
    rows = []
    for method, metric, split, est, low, high in [
            ("retain_ref", "shift_forget_recall", "alias", 0.05, 0.0, 0.15),
            ("retain_ref", "shift_forget_recall", "typo", 0.0, 0.0, 0.2),
            ("retain_ref", "shift_forget_recall", "filler", 0.0, 0.0, 0.3),
            ("retain_ref", "shift_forget_bridge", "alias", 0.0, 0.0, 0.1),
            ("masked_lora", "shift_forget_recall", "alias", 0.4, 0.2, 0.6),    # leaks
            ("masked_lora", "shift_forget_recall", "typo", 0.1, 0.0, 0.3),     # within
            ("masked_lora", "shift_forget_recall", "filler", 0.1, 0.01, 0.4),  # above 0, not
                                                                                 # above 0 + 0.05
            ("masked_lora", "shift_forget_bridge", "alias", 0.5, 0.3, 0.7),    # leaks
            ("npo", "shift_forget_recall", "alias", 0.06, 0.01, 0.2),          # low < ref
            ("base", "shift_forget_recall", "alias", 0.9, 0.8, 1.0)]:
        rows.append({"method": method, "metric": metric, "split": split, "film": "all",
                     "estimate": est, "low": low, "high": high})
    line = leak_line(pd.DataFrame(rows))
    assert "masked_lora: alias, alias (bridge)" in line and "no leak found: npo" in line
    assert "base" not in line.split(":", 1)[1]
    no_ref = [r for r in rows if r["method"] != "retain_ref"]
    assert leak_line(pd.DataFrame(no_ref)) is None  # no reference, no verdict
    table = pd.DataFrame({"method": ["base", "base", "npo", "npo"],
                          "shift_set": ["original", "alias", "original", "alias"],
                          "forget_ci": ["1 [0.9, 1]", "0.5", "0", "0.1"]})
    pivot = shift_pivot(table)
    assert list(pivot.columns) == ["method", "original", "alias"]
    assert list(pivot.method) == ["base", "npo"] and pivot.alias.tolist() == ["0.5", "0.1"]


def test_attack_line_names_reverting_attacks_and_the_uninformative_ones():
    from actunlearn.reporting.results_doc import attack_line, attack_pivot
    rows = [  # method, attack, forget, forget_low, none_forget, base_forget, ref_forget
        ("base", "none", 1.0, 0.9, 1.0, 1.0, 0.05), ("base", "int4", 1.0, 0.9, 1.0, 1.0, 0.05),
        ("base", "role_play", 0.05, 0.0, 1.0, 0.05, 0.04),
        ("npo", "none", 0.0, 0.0, 0.0, 1.0, 0.05), ("npo", "int4", 0.6, 0.4, 0.0, 1.0, 0.05),
        ("npo", "role_play", 0.5, 0.3, 0.0, 0.05, 0.04),
        ("rmu", "none", 0.8, 0.7, 0.8, 1.0, 0.05), ("rmu", "int4", 0.8, 0.7, 0.8, 1.0, 0.05)]
    table = pd.DataFrame(rows, columns=["method", "attack", "forget", "forget_low",
                                        "none_forget", "base_forget", "ref_forget"])
    table["forget_ci"] = table.forget.astype(str)
    line = attack_line(table)
    # npo's int4 recall is credibly above its own and the reference's; rmu never forgot (not a
    # reversion); role_play cannot show a leak (the base model fails it)
    assert "npo: int4" in line and "rmu" not in line
    assert line.endswith("The base model fails role_play: they cannot show a leak.")
    assert attack_line(table[table.method != "npo"]).count("none") == 1
    assert attack_line(None) is None
    pivot = attack_pivot(table)
    assert list(pivot.columns) == ["method", "none", "int4", "role_play"]
