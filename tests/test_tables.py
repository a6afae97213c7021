from pathlib import Path

import pandas as pd

from actunlearn.cli import main
from actunlearn.provenance import provenance, read_provenance, write_parquet
from actunlearn.tables import T95, T95_MACRO, build_database, connect, run_sql_file, to_markdown

ROOT = Path(__file__).resolve().parents[1]


def _summary(checkpoint, forget, retain):
    return pd.DataFrame({"checkpoint": checkpoint,
                         "metric": ["forget_recall_train", "retain_recall_train"],
                         "value": [forget, retain], "n": [5, 50]})


def test_database_views_and_method_comparison(tmp_path, capsys):
    prov = provenance({"x": 1})
    for name, f, r in (("base", 1.0, 0.8), ("masked_lora_seed0", 0.0, 0.72)):
        write_parquet(_summary(name, f, r), tmp_path / f"results/testbed/eval/{name}/summary.parquet",
                      prov)
    db = tmp_path / "results/testbed/actunlearn.duckdb"
    assert build_database(db, tmp_path, "testbed") == ["eval_summary", "eval_wide"]
    with connect(db) as con:
        table = run_sql_file(con, ROOT / "sql/method_comparison.sql").set_index("checkpoint")
    assert list(table.index) == ["base", "masked_lora_seed0"]
    assert table.loc["masked_lora_seed0", "retain_vs_base"] == 0.72 / 0.8
    assert table.loc["base", "exposure_prob"] != table.loc["base", "exposure_prob"]  # NULL -> NaN
    md = to_markdown(table.reset_index()[["checkpoint", "forget_recall_train", "exposure_prob"]])
    assert "| base" in md and "1.000" in md and "| -" in md
    assert read_provenance(tmp_path / "results/testbed/eval/base/summary.parquet")["params"] == {"x": 1}
    # the database works from any working directory (paths resolve against the project root)
    assert main(["sql", "SELECT count(*) AS n FROM eval_summary", "--db", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "4"]


def test_study_database_spans_models_with_a_model_column(tmp_path):
    prov = provenance({"x": 1})
    for model, forget in (("testbed", 0.0), ("smollm2", 0.5)):
        for name, f in (("base", 1.0), ("masked_lora_seed0", forget)):
            write_parquet(_summary(name, f, 0.8),
                          tmp_path / f"results/{model}/eval/{name}/summary.parquet", prov)
    write_parquet(_summary("base", 1.0, 0.8), tmp_path / "results/smollm2x/eval/b/summary.txt", prov)
    only = tmp_path / "results/smollm2/actunlearn.duckdb"
    build_database(only, tmp_path, "smollm2")
    with connect(only) as con:
        assert con.execute("SELECT count(*) FROM eval_summary").fetchone()[0] == 4
    study = tmp_path / "results/actunlearn.duckdb"
    build_database(study, tmp_path)
    with connect(study) as con:
        wide = con.execute("SELECT model, checkpoint, forget_recall_train FROM eval_wide "
                           "ORDER BY model, checkpoint").fetchall()
    assert wide == [("smollm2", "base", 1.0), ("smollm2", "masked_lora_seed0", 0.5),
                    ("testbed", "base", 1.0), ("testbed", "masked_lora_seed0", 0.0)]


def test_provenance_hash_is_stable_and_sensitive():
    a = provenance({"b": 1, "a": [1, 2]})["config_hash"]
    assert a == provenance({"a": [1, 2], "b": 1})["config_hash"]
    assert a != provenance({"a": [1, 3], "b": 1})["config_hash"]


def test_mean_sd_table_folds_spread_columns():
    from actunlearn.report import mean_sd_table
    df = pd.DataFrame({"method": ["a", "b"], "x": [0.5, 0.25], "x_sd": [0.1, float("nan")],
                       "seeds": [3, 1]})
    out = mean_sd_table(df)
    assert list(out.columns) == ["method", "x", "seeds"]
    # 95% t interval over 3 seeds: 0.5 ± 4.302653 * 0.1 / sqrt(3) = 0.5 ± 0.248
    assert list(out.x) == ["0.500 ± 0.100 [0.252, 0.748]", "0.250"]


def test_shift_robustness_table_has_t_intervals_over_seeds():
    import duckdb
    from scipy.stats import t
    rows = [{"checkpoint": f"masked_lora_seed{s}", "shift_set": "typo", "role": "forget",
             "metric": "recall", "value": v} for s, v in enumerate([0.1, 0.2, 0.3])]
    rows.append({"checkpoint": "base", "shift_set": "typo", "role": "forget", "metric": "recall",
                 "value": 1.0})
    con = duckdb.connect()
    con.execute(T95_MACRO)
    con.register("eval_shift_summary", pd.DataFrame(rows))
    table = run_sql_file(con, ROOT / "sql/shift_robustness.sql").set_index("method")
    half = t.ppf(0.975, 2) * 0.1 / 3 ** 0.5
    assert table.loc["masked_lora", "seeds"] == 3 and abs(table.loc["masked_lora", "forget"] - 0.2) < 1e-12
    assert table.loc["masked_lora", "forget_ci"] == f"[{0.2 - half:.3f}, {0.2 + half:.3f}]"
    assert pd.isna(table.loc["base", "forget_ci"])  # one seed: no interval


def test_t95_macro_matches_scipy():
    import duckdb
    from scipy.stats import t
    con = duckdb.connect()
    con.execute(T95_MACRO)
    for df in (1, 2, 5, 30):
        assert abs(con.execute(f"SELECT t95({df})").fetchone()[0] - t.ppf(0.975, df)) < 1e-3
    assert con.execute("SELECT t95(0), t95(100)").fetchone() == (None, 1.96)
    assert len(T95) == 30


def test_relearning_table_recovery_interval_over_seeds():
    import duckdb
    from scipy.stats import t
    rows = []
    for seed, after in enumerate([0.6, 0.8, 1.0]):
        for phase, recall in (("before", 0.0), ("after", after)):
            rows.append({"checkpoint": f"masked_lora_seed{seed}", "variant": "neighbours",
                         "phase": phase, "recall": recall, "n": 10})
    rows += [{"checkpoint": "retain_ref", "variant": "neighbours", "phase": p, "recall": r, "n": 10}
             for p, r in (("before", 0.0), ("after", 0.1))]
    con = duckdb.connect()
    con.execute(T95_MACRO)
    con.register("relearn", pd.DataFrame(rows))
    table = run_sql_file(con, ROOT / "sql/relearning.sql").set_index("method")
    half = t.ppf(0.975, 2) * 0.2 / 3 ** 0.5
    assert table.loc["masked_lora", "seeds"] == 3
    assert abs(table.loc["masked_lora", "recovery"] - 0.8) < 1e-12
    assert table.loc["masked_lora", "recovery_ci"] == f"[{0.8 - half:.3f}, {0.8 + half:.3f}]"
    assert pd.isna(table.loc["retain_ref", "recovery_ci"]) and table.loc["retain_ref", "seeds"] == 1
