"""The databases open in any DuckDB client from any working directory (issue 12)."""
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from actunlearn.cli import main
from actunlearn.reporting.database import (
    ARTIFACTS,
    LARGE,
    build_database,
    build_study_database,
    connect,
    per_model,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("testbed", "other")
# sequential.sql reads sequence_summary, left out below: its result is the one-row note
SQL = [ROOT / "sql/method_comparison.sql", ROOT / "sql/sequential.sql"]
ABSENT = {"sequence_log", "sequence_ranking", "sequence_recall", "sequence_summary"}


def _file_of(name: str, model: str) -> str:
    """A path matching artifact `name`'s glob (one file; `*` as the checkpoint ck0)."""
    glob = ARTIFACTS[name].replace("{m}", f"results/{model}")
    return glob.replace("*[0-9]", "ck0").replace("*[!y]", "ck0").replace("*", "ck0")


def _frame(name: str, model: str, rows: int) -> pd.DataFrame:
    if name == "eval_summary":
        return pd.DataFrame({"checkpoint": ["base", "base"], "n": [5, 50],
                             "metric": ["forget_recall_train", "retain_recall_train"],
                             "value": [1.0, 0.8 if model == "testbed" else 0.6]})
    frame = pd.DataFrame({"checkpoint": [f"ck{i}" for i in range(rows)], "value": range(rows)})
    if name == "training_log":
        frame["model"] = "base"  # the testbed variant: `variant` in the study database
    if name in LARGE:
        frame = frame.drop(columns="checkpoint")  # the file name is the checkpoint
        frame["resid_last"] = [[0.5, -0.5]] * rows
    return frame


def _project(folder: Path) -> dict[str, int]:
    """A results folder with one file of every artifact but the sequential ones, per model (the
    shared ones once); returns the rows of each artifact in one model's database."""
    rows = {}
    for i, name in enumerate(a for a in ARTIFACTS if a not in ABSENT):
        for model in MODELS if per_model(name) else MODELS[:1]:
            frame = _frame(name, model, rows=2 + i % 3)
            path = folder / _file_of(name, model)
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path)
            rows[name] = len(frame)
    return rows


@pytest.fixture
def built(tmp_path):
    project = tmp_path / "project"
    rows = _project(project)
    databases = {m: project / f"results/{m}/actunlearn.duckdb" for m in MODELS}
    for model, db in databases.items():
        build_database(db, project, model, sql=SQL)
    build_study_database(project / "results/actunlearn.duckdb", databases)
    return project, rows


def _listing(con) -> list[tuple[str, str, str]]:
    return con.execute("SELECT table_schema, table_name, table_type FROM information_schema.tables "
                       "ORDER BY ALL").fetchall()


def test_plain_duckdb_reads_every_relation_from_another_folder(built, tmp_path, monkeypatch):
    project, rows = built
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no results/ here: relative paths could not resolve
    present = {name for name in ARTIFACTS if name not in ABSENT}
    expected = ({("main", n) for n in present | {"eval_wide", "actunlearn_meta"}}
                | {("tables", p.stem) for p in SQL})
    for db in ("results/testbed/actunlearn.duckdb", "results/actunlearn.duckdb"):
        with duckdb.connect(str(project / db), read_only=True) as con:
            listing = _listing(con)
            names = [(schema, name) for schema, name, _ in listing]
            assert len(names) == len(set(names)), f"{db}: a relation listed twice"
            assert set(names) == expected
            # the activation dumps stay views over their files; everything else is in the file
            assert {(n, kind) for _, n, kind in listing if kind == "VIEW"} == {
                ("activations", "VIEW"), ("eval_wide", "VIEW")}
            counts = {name: con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
                      for schema, name, _ in listing}
            assert all(n > 0 for n in counts.values()), counts
            assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE comment IS NULL "
                               "OR comment = ''").fetchone()[0] == 0, "each table says its source"
            study = db == "results/actunlearn.duckdb"
            for name in present:  # the study stacks both models' rows, the shared tables once
                assert counts[name] == rows[name] * (2 if study and per_model(name) else 1), name
            assert con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "
                               "WHERE database_name = current_database()").fetchone()[0] == "v1.0.0+"
    with duckdb.connect(str(project / "results/actunlearn.duckdb"), read_only=True) as con:
        wide = con.execute("SELECT model, retain_recall_train FROM eval_wide ORDER BY model").fetchall()
        assert wide == [("other", 0.6), ("testbed", 0.8)]
        assert con.execute("SELECT DISTINCT model, variant FROM training_log ORDER BY 1").fetchall() \
            == [("other", "base"), ("testbed", "base")]
        acts = con.execute("SELECT DISTINCT model, checkpoint FROM activations ORDER BY 1").fetchall()
        assert acts == [("other", "ck0"), ("testbed", "ck0")]
        table = con.execute("SELECT * FROM tables.method_comparison ORDER BY model").df()
        assert list(table.columns[:2]) == ["model", "checkpoint"]
        assert table.retain_vs_base.tolist() == [1.0, 1.0]
        note = con.execute("SELECT model, note FROM tables.sequential ORDER BY model").fetchall()
        assert [m for m, _ in note] == ["other", "testbed"]
        assert all("no sequence_summary artifacts" in n for _, n in note)


def test_a_moved_results_folder_fails_with_a_clear_message(built, tmp_path, capsys, monkeypatch):
    project, _ = built
    moved = tmp_path / "moved"
    shutil.move(project, moved)
    monkeypatch.chdir(tmp_path)
    db = moved / "results/testbed/actunlearn.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM eval_summary").fetchone()[0] == 2  # in the file
        with pytest.raises(duckdb.IOException, match=str(project / "results/testbed/activations")):
            con.execute("SELECT count(*) FROM activations")
    assert main(["sql", "SELECT count(*) FROM activations", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"was built for {project}/results and now lies in {moved}/results" in err
    assert "--forcerun build_tables" in err
    with pytest.raises(ValueError, match=f"built for {project}, not {moved}"):
        connect(db, moved)
    assert main(["sql", "SELECT count(*) AS n FROM eval_summary", "--db", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "2"]


def test_a_failed_build_leaves_the_previous_database(built):
    project, _ = built
    db = project / "results/testbed/actunlearn.duckdb"
    before = db.read_bytes()
    broken = project / "broken.sql"
    broken.write_text("SELECT no_such_column FROM eval_summary")
    with pytest.raises(duckdb.BinderException):
        build_database(db, project, "testbed", sql=[broken])
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.glob("actunlearn.duckdb*")) == ["actunlearn.duckdb"]


def test_a_table_without_rows_is_its_header_in_markdown():
    from actunlearn.reporting.database import to_markdown
    out = to_markdown(pd.DataFrame({"method": pd.Series(dtype=str), "top10": pd.Series(dtype=float)}))
    assert out.splitlines()[0].replace(" ", "") == "|method|top10|" and len(out.splitlines()) == 2
