from pathlib import Path

import pandas as pd

from actunlearn.cli import main
from actunlearn.provenance import provenance, read_provenance, write_parquet
from actunlearn.tables import build_database, connect, run_sql_file, to_markdown

ROOT = Path(__file__).resolve().parents[1]


def _summary(checkpoint, forget, retain):
    return pd.DataFrame({"checkpoint": checkpoint,
                         "metric": ["forget_recall_train", "retain_recall_train"],
                         "value": [forget, retain], "n": [5, 50]})


def test_database_views_and_method_comparison(tmp_path, capsys):
    prov = provenance({"x": 1})
    for name, f, r in (("base", 1.0, 0.8), ("masked_lora_seed0", 0.0, 0.72)):
        write_parquet(_summary(name, f, r), tmp_path / f"results/eval/{name}/summary.parquet", prov)
    db = tmp_path / "results/actunlearn.duckdb"
    assert build_database(db, tmp_path) == ["eval_summary", "eval_wide"]
    with connect(db) as con:
        table = run_sql_file(con, ROOT / "sql/method_comparison.sql").set_index("checkpoint")
    assert list(table.index) == ["base", "masked_lora_seed0"]
    assert table.loc["masked_lora_seed0", "retain_vs_base"] == 0.72 / 0.8
    assert table.loc["base", "exposure_prob"] != table.loc["base", "exposure_prob"]  # NULL -> NaN
    md = to_markdown(table.reset_index()[["checkpoint", "forget_recall_train", "exposure_prob"]])
    assert "| base" in md and "1.000" in md and "| -" in md
    assert read_provenance(tmp_path / "results/eval/base/summary.parquet")["params"] == {"x": 1}
    # the database works from any working directory (paths resolve against the project root)
    assert main(["sql", "SELECT count(*) AS n FROM eval_summary", "--db", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "4"]


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
