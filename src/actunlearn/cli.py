"""Command line.

- `actunlearn sql "SELECT ..."`: query the study database.
- `actunlearn drift LOGS.jsonl --catalog CATALOG.parquet --out DIR`: recommendation drift of
  response logs produced elsewhere (ShareGPT, alpaca or question/answer JSONL), written as the
  same Parquet tables as the study's (`pairs`, `summary`, `intervals`).

A bad input (a missing, empty or unreadable file, a query DuckDB rejects, logs the reader
rejects) gets one line on stderr naming the problem and exit status 2, as argparse's usage errors.
"""

from __future__ import annotations

import argparse
import codecs
import sys
from pathlib import Path

from actunlearn.reporting.database import ARTIFACTS, RESULT_SCHEMA, to_markdown

BAD_INPUT = 2


class BadInput(Exception):
    """A problem with what the user gave; its message is the one line printed."""


def _one_line(error: Exception) -> str:
    """DuckDB's message without its query excerpt ("LINE 1: ..."), on one line."""
    lines = []
    for line in str(error).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or error.__class__.__name__


def _readable(path: Path, what: str, text: bool = False) -> None:
    """BadInput unless `path` is an existing, readable, non-empty file (`text`: with more than
    blank lines)."""
    if not path.exists():
        raise BadInput(f"{what} {path} does not exist")
    if path.is_dir():
        raise BadInput(f"{what} {path} is a directory, not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read() if text else fh.read(1)
    except OSError as err:
        raise BadInput(f"cannot read {what} {path}: {err.strerror or err}") from None
    if not (head.removeprefix(codecs.BOM_UTF8).strip() if text else head):
        raise BadInput(f"{what} {path} is empty")


def _sql(args) -> int:
    import duckdb

    from actunlearn.reporting.database import connect, moved
    db = Path(args.db)
    _readable(db, "database")
    try:
        con = connect(db)
    except duckdb.Error as err:
        raise BadInput(f"cannot open database {db}: {_one_line(err)}") from None
    with con:
        try:
            frame = con.execute(args.query).df()
        except duckdb.Error as err:
            note = moved(con, db) if isinstance(err, duckdb.IOException) else None
            raise BadInput(_one_line(err) + (f" ({note})" if note else "")) from None
    print(frame.to_csv(index=False) if args.csv else to_markdown(frame), end="")
    return 0


def _titles(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    _readable(path, "catalog")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise BadInput(f"catalog {path} is not a readable Parquet file ({err})") from None
    if "title" not in table.column_names:
        raise BadInput(f"catalog {path} has no `title` column (columns: {table.column_names})")
    titles = [t for t in table.column("title").to_pylist() if t]
    if not titles:
        raise BadInput(f"catalog {path} has no titles")
    return titles


def _drift(args) -> int:
    from actunlearn.evaluation.recommendation_drift import drift_of_logs
    from actunlearn.provenance import provenance, write_parquet
    logs, out = Path(args.logs), Path(args.out)
    _readable(logs, "response log", text=True)  # blank lines only: no records to compare
    titles = _titles(Path(args.catalog))
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is a file, not a folder")
    try:
        frames = drift_of_logs(logs, titles, args.k, args.p, args.base)
    except UnicodeDecodeError as err:
        raise BadInput(f"response log {logs} is not UTF-8 text ({err.reason} at byte "
                       f"{err.start})") from None
    except ValueError as err:  # the readers' messages name the file and line
        raise BadInput(str(err).replace("\n", " ")) from None
    prov = provenance({"logs": str(logs), "k": args.k, "p": args.p, "base": args.base})
    try:
        for name, frame in zip(("recommendations", "pairs", "summary", "intervals"), frames):
            write_parquet(frame, out / f"{name}.parquet", prov)
    except OSError as err:
        raise BadInput(f"cannot write to --out {out}: {err.strerror or err}") from None
    print(to_markdown(frames[2]), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actunlearn")
    sub = parser.add_subparsers(dest="command", required=True)
    sql = sub.add_parser("sql", help="run a SQL query over the study's database (DuckDB)")
    sql.add_argument("query", help=f"SQL over the tables {', '.join(ARTIFACTS)} (activations: a "
                     f"view over the Parquet dumps), eval_wide, and {RESULT_SCHEMA}.NAME (the "
                     "result of sql/NAME.sql)")
    sql.add_argument("--db", default="results/actunlearn.duckdb")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a Markdown table")
    drift = sub.add_parser("drift", help="recommendation drift of response logs (JSONL)")
    drift.add_argument("logs", help="JSONL: ShareGPT conversations, alpaca or id/question/answer "
                       "records, each with a `family` (paraphrase family id)")
    drift.add_argument("--catalog", default="results/catalog/catalog.parquet",
                       help="titles to find in the responses (a catalog Parquet with `title`)")
    drift.add_argument("--out", required=True, help="folder for the Parquet tables")
    drift.add_argument("--base", default=None, help="checkpoint to compare every other one with")
    drift.add_argument("--k", type=int, default=5, help="Jaccard of the top-k sets")
    drift.add_argument("--p", type=float, default=0.9, help="RBO persistence")
    args = parser.parse_args(argv)
    try:
        return _sql(args) if args.command == "sql" else _drift(args)
    except BadInput as problem:
        print(f"actunlearn {args.command}: {problem}", file=sys.stderr)
        return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
