"""Command line.

- `actunlearn sql "SELECT ..."`: query the study database.
- `actunlearn drift LOGS.jsonl --catalog CATALOG.parquet --out DIR`: recommendation drift of
  response logs produced elsewhere (ShareGPT, alpaca or question/answer JSONL), written as the
  same Parquet tables as the study's (`pairs`, `summary`, `intervals`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actunlearn.tables import VIEWS, connect, to_markdown


def _sql(args) -> int:
    try:
        with connect(args.db) as con:
            frame = con.execute(args.query).df()
    except Exception as err:  # duckdb raises many error types; report them all the same way
        print(f"actunlearn sql: {err}", file=sys.stderr)
        return 1
    print(frame.to_csv(index=False) if args.csv else to_markdown(frame), end="")
    return 0


def _drift(args) -> int:
    import pandas as pd

    from actunlearn.provenance import provenance, write_parquet
    from actunlearn.recdrift import drift_of_logs
    try:
        titles = pd.read_parquet(args.catalog).title.tolist()
        frames = drift_of_logs(args.logs, titles, args.k, args.p, args.base)
    except ValueError as err:
        print(f"actunlearn drift: {err}", file=sys.stderr)
        return 1
    out = Path(args.out)
    prov = provenance({"logs": str(args.logs), "k": args.k, "p": args.p, "base": args.base})
    for name, frame in zip(("recommendations", "pairs", "summary", "intervals"), frames):
        write_parquet(frame, out / f"{name}.parquet", prov)
    print(to_markdown(frames[2]), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actunlearn")
    sub = parser.add_subparsers(dest="command", required=True)
    sql = sub.add_parser("sql", help="run a SQL query over the study's artifacts (DuckDB views)")
    sql.add_argument("query", help=f"SQL; views: {', '.join(VIEWS)}")
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
    return _sql(args) if args.command == "sql" else _drift(args)


if __name__ == "__main__":
    sys.exit(main())
