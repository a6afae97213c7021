"""Bad input to `actunlearn sql` and `actunlearn drift`: one line naming the problem, exit 2."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from actunlearn.cli import main
from actunlearn.provenance import provenance, write_parquet
from actunlearn.reporting.database import build_database

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "docs/examples/recommendation_logs.jsonl"


def _bad(capsys, argv: list[str], *named: str) -> str:
    """Run the command; it must fail with exit 2, one stderr line naming `named`, no output."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"actunlearn {argv[0]}: ") and "Traceback" not in err
    for text in named:
        assert text in err, (text, err)
    return err


def _unreadable(path: Path, monkeypatch) -> None:
    """Make `path` unreadable: mode 000, or for root (who reads it anyway) an open() that fails
    on it as the kernel would for another user."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    import actunlearn.cli

    def refuse(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)
    monkeypatch.setattr(actunlearn.cli, "open", refuse, raising=False)


@pytest.fixture
def db(tmp_path):
    summary = pd.DataFrame({"checkpoint": "base", "metric": ["forget_recall_train"], "value": [1.0],
                            "n": [5]})
    write_parquet(summary, tmp_path / "results/testbed/eval/base/summary.parquet", provenance({}))
    path = tmp_path / "results/testbed/actunlearn.duckdb"
    build_database(path, tmp_path, "testbed")
    return path


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.parquet"
    pd.DataFrame({"title": ["The Prestige", "Interstellar", "Memento", "Inception"]}).to_parquet(path)
    return path


def test_sql_query_works(db, capsys):
    assert main(["sql", "SELECT metric, value FROM eval_summary", "--db", str(db), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["metric,value", "forget_recall_train,1.0"]


def test_sql_bad_databases(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    _bad(capsys, ["sql", "SELECT 1", "--db", str(missing)], str(missing), "does not exist")
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    _bad(capsys, ["sql", "SELECT 1", "--db", str(empty)], str(empty), "is empty")
    _bad(capsys, ["sql", "SELECT 1", "--db", str(tmp_path)], str(tmp_path), "is a directory")
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_text("not a database\n")
    _bad(capsys, ["sql", "SELECT 1", "--db", str(garbage)], str(garbage),
         "not a valid DuckDB database")


def test_sql_unreadable_database(db, capsys, monkeypatch):
    _unreadable(db, monkeypatch)
    _bad(capsys, ["sql", "SELECT 1", "--db", str(db)], str(db), "cannot read", "Permission denied")


def test_sql_bad_queries(db, capsys):
    err = _bad(capsys, ["sql", "SELECT * FROM nope", "--db", str(db)], "nope", "does not exist")
    assert "LINE 1" not in err  # DuckDB's query excerpt, several lines, is left out
    _bad(capsys, ["sql", "SELECT nothing_here FROM eval_summary", "--db", str(db)], "nothing_here")
    _bad(capsys, ["sql", "SELEC 1", "--db", str(db)], "syntax error")
    _bad(capsys, ["sql", "CREATE TABLE t (i INT)", "--db", str(db)], "read-only")


def test_drift_bad_logs(tmp_path, catalog, capsys):
    out = ["--catalog", str(catalog), "--out", str(tmp_path / "out")]
    missing = tmp_path / "none.jsonl"
    _bad(capsys, ["drift", str(missing), *out], str(missing), "does not exist")
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    _bad(capsys, ["drift", str(empty), *out], str(empty), "is empty")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\n")
    _bad(capsys, ["drift", str(blank), *out], str(blank), "is empty")
    _bad(capsys, ["drift", str(tmp_path), *out], str(tmp_path), "is a directory")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q", "answer": "a", "family": "f"}\n{not json\n')
    _bad(capsys, ["drift", str(broken), *out], str(broken), "line 2", "invalid JSON")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    _bad(capsys, ["drift", str(binary), *out], str(binary), "not UTF-8")
    no_family = tmp_path / "no_family.jsonl"
    no_family.write_text('{"question": "q", "answer": "Memento"}\n')
    _bad(capsys, ["drift", str(no_family), *out], "no `family`")
    _bad(capsys, ["drift", str(LOGS), *out, "--base", "nope"], "'nope'", "not in the logs")
    assert not (tmp_path / "out").exists()


def test_drift_unreadable_logs(tmp_path, catalog, capsys, monkeypatch):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(LOGS.read_text())
    _unreadable(logs, monkeypatch)
    _bad(capsys, ["drift", str(logs), "--catalog", str(catalog), "--out", str(tmp_path / "o")],
         str(logs), "cannot read", "Permission denied")


def test_drift_bad_catalog_and_out(tmp_path, catalog, capsys):
    args = ["drift", str(LOGS), "--out", str(tmp_path / "out"), "--catalog"]
    missing = tmp_path / "none.parquet"
    _bad(capsys, [*args, str(missing)], str(missing), "does not exist")
    empty = tmp_path / "empty.parquet"
    empty.touch()
    _bad(capsys, [*args, str(empty)], str(empty), "is empty")
    text = tmp_path / "catalog.csv"
    text.write_text("title\nMemento\n")
    _bad(capsys, [*args, str(text)], str(text), "not a readable Parquet file")
    untitled = tmp_path / "untitled.parquet"
    pd.DataFrame({"name": ["Memento"]}).to_parquet(untitled)
    _bad(capsys, [*args, str(untitled)], str(untitled), "no `title` column")
    file_out = tmp_path / "out.txt"
    file_out.write_text("")
    _bad(capsys, ["drift", str(LOGS), "--catalog", str(catalog), "--out", str(file_out)],
         str(file_out), "is a file")


def test_installed_command_prints_no_traceback(tmp_path):
    for argv in (["drift", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "out")],
                 ["sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb")]):
        proc = subprocess.run([sys.executable, "-m", "actunlearn.cli", *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert str(tmp_path / "none.") in proc.stderr and "does not exist" in proc.stderr
