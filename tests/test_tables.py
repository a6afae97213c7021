from pathlib import Path

import pandas as pd

from actunlearn.cli import main
from actunlearn.provenance import provenance, read_provenance, write_parquet
from actunlearn.reporting.database import (
    build_database,
    build_study_database,
    connect,
    run_sql_file,
    to_markdown,
    write_tables,
)

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
    for model, forget in (("testbed", 0.0), ("smollm2", 0.5), ("stale", 0.9)):
        for name, f in (("base", 1.0), ("masked_lora_seed0", forget)):
            write_parquet(_summary(name, f, 0.8),
                          tmp_path / f"results/{model}/eval/{name}/summary.parquet", prov)
    databases = {}
    for model in ("testbed", "smollm2", "stale"):
        databases[model] = tmp_path / f"results/{model}/actunlearn.duckdb"
        build_database(databases[model], tmp_path, model, sql=[ROOT / "sql/method_comparison.sql"])
    with connect(databases["smollm2"]) as con:
        assert con.execute("SELECT count(*) FROM eval_summary").fetchone()[0] == 4
    study = tmp_path / "results/actunlearn.duckdb"
    del databases["stale"]  # a model folder the study does not list stays out of it
    made = build_study_database(study, databases)
    assert made == ["eval_summary", "eval_wide", "tables.method_comparison"]
    with connect(study) as con:
        wide = con.execute("SELECT model, checkpoint, forget_recall_train FROM eval_wide "
                           "ORDER BY model, checkpoint").fetchall()
        table = con.execute("SELECT model, checkpoint, retain_vs_base FROM tables.method_comparison "
                            "ORDER BY model, checkpoint").fetchall()
    assert wide == [("smollm2", "base", 1.0), ("smollm2", "masked_lora_seed0", 0.5),
                    ("testbed", "base", 1.0), ("testbed", "masked_lora_seed0", 0.0)]
    assert table == [("smollm2", "base", 1.0), ("smollm2", "masked_lora_seed0", 1.0),
                     ("testbed", "base", 1.0), ("testbed", "masked_lora_seed0", 1.0)]


def test_result_tables_keep_their_types_across_models(tmp_path):
    """A model without an artifact gets a note table; stacked with a model that has it, integer
    columns stay integers (no float 100.0) and text stays text (no "+1e-06" read as a number)."""
    prov = provenance({})
    write_parquet(_summary("base", 1.0, 0.8), tmp_path / "results/a/eval/base/summary.parquet", prov)
    write_parquet(pd.DataFrame({"step": [100], "cell": ["+1.27e-06"]}),
                  tmp_path / "results/a/unlearn/x_seed0/log.parquet", prov)
    write_parquet(_summary("base", 1.0, 0.8), tmp_path / "results/b/eval/base/summary.parquet", prov)
    query = tmp_path / "steps.sql"
    query.write_text("SELECT step, cell FROM unlearn_log;\n")
    dbs = {m: tmp_path / f"results/{m}/actunlearn.duckdb" for m in ("b", "a")}
    for model, db in dbs.items():
        build_database(db, tmp_path, model, sql=[query])
    study = tmp_path / "results/actunlearn.duckdb"
    build_study_database(study, dbs)
    write_tables(study, [tmp_path / "steps.csv"], [tmp_path / "steps.md"])
    assert (tmp_path / "steps.csv").read_text().splitlines() == [
        "model,note,step,cell", "b,not in this study: no unlearn_log artifacts (CatalogException),,",
        "a,,100,+1.27e-06"]
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in (tmp_path / "steps.md").read_text().splitlines()]
    assert cells[-1] == ["a", "-", "100", "+1.27e-06"]  # as written, not reformatted as 0.000


def test_provenance_hash_is_stable_and_sensitive():
    a = provenance({"b": 1, "a": [1, 2]})["config_hash"]
    assert a == provenance({"a": [1, 2], "b": 1})["config_hash"]
    assert a != provenance({"a": [1, 3], "b": 1})["config_hash"]


def _recall_rows(checkpoint, role, title, values, split="held_out", intent="director"):
    return [{"checkpoint": checkpoint, "prompt_id": i, "intent": intent, "title": title,
             "role": role, "template_id": i, "split": split, "correct": bool(v)}
            for i, v in enumerate(values)]


def test_shift_robustness_table_reads_design_intervals():
    import duckdb

    from actunlearn.reporting.summary import method_results
    catalog = pd.DataFrame({"title": ["A", "B", "N"], "neighbour_of": [None, None, "A"]})
    recall, shift = [], []
    for seed, hits in enumerate([[1, 0, 0], [0, 1, 0], [0, 0, 0]]):
        ck = f"masked_lora_seed{seed}"
        for title in ("A", "B"):
            recall += _recall_rows(ck, "forget", title, [0, 0])
            shift += [dict(r, shift_set="typo") for r in _recall_rows(ck, "forget", title, hits)]
    recall, shift = pd.DataFrame(recall), pd.DataFrame(shift)
    exposure = pd.DataFrame(columns=["checkpoint", "prompt_id", "title", "template_id", "split",
                                     "target", "target_logprob", "target_rank", "n_candidates"])
    summary = pd.DataFrame(columns=["checkpoint", "metric", "value", "n"])
    results = method_results(recall, exposure, summary, catalog, shift)
    con = duckdb.connect()
    con.register("method_results", results)
    table = run_sql_file(con, ROOT / "sql/shift_robustness.sql").set_index(["method", "shift_set"])
    typo = table.loc[("masked_lora", "typo")]
    assert typo.seeds == 3 and typo.forget_facts == 2
    assert abs(typo.forget - 2 / 9) < 1e-12  # seeds: 1/3, 1/3, 0
    low, high = (float(x) for x in typo.forget_ci.split("[")[1].rstrip("]").split(","))
    assert 0 <= low <= typo.forget <= high <= 1
    # the original templates were all forgotten: an exact binomial bound, not "0 [0, 0]"
    paraphrase = table.loc[("masked_lora", "paraphrase")]
    assert paraphrase.forget == 0 and paraphrase.forget_ci.startswith("0 [0, 0.")


def test_relearning_table_recovery_has_design_intervals():
    import duckdb

    from actunlearn.evaluation.relearning import recovery_intervals
    rows = []
    for seed, after in enumerate([0.6, 0.8, 1.0]):
        for title in ("A", "B"):
            for phase, recall in (("before", 0.0), ("after", after)):
                rows.append({"checkpoint": f"masked_lora_seed{seed}", "variant": "neighbours",
                             "split": "train", "title": title, "intent": "director",
                             "phase": phase, "recall": recall, "n": 10})
    rows += [{"checkpoint": "retain_ref", "variant": "neighbours", "split": "train", "title": t,
              "intent": "director", "phase": p, "recall": r, "n": 10}
             for t in ("A", "B") for p, r in (("before", 0.0), ("after", 0.1))]
    con = duckdb.connect()
    con.register("relearn_recovery", recovery_intervals(pd.DataFrame(rows)))
    table = run_sql_file(con, ROOT / "sql/relearning.sql").set_index("method")
    assert table.loc["masked_lora", "seeds"] == 3 and table.loc["masked_lora", "films"] == 2
    assert abs(table.loc["masked_lora", "recovery"] - 0.8) < 1e-12
    low, high = (float(x) for x in table.loc["masked_lora", "recovery_ci"].split("[")[1]
                 .rstrip("]").split(","))
    assert -1 <= low < 0.8 < high <= 1
    assert table.loc["retain_ref", "seeds"] == 1
