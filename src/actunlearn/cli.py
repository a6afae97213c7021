"""Command line: `actunlearn sql "SELECT ..."` queries the study database."""

from __future__ import annotations

import argparse
import sys

from actunlearn.tables import VIEWS, connect, to_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actunlearn")
    sub = parser.add_subparsers(dest="command", required=True)
    sql = sub.add_parser("sql", help="run a SQL query over the study's artifacts (DuckDB views)")
    sql.add_argument("query", help=f"SQL; views: {', '.join(VIEWS)}")
    sql.add_argument("--db", default="results/actunlearn.duckdb")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a Markdown table")
    args = parser.parse_args(argv)
    try:
        with connect(args.db) as con:
            frame = con.execute(args.query).df()
    except Exception as err:  # duckdb raises many error types; report them all the same way
        print(f"actunlearn sql: {err}", file=sys.stderr)
        return 1
    print(frame.to_csv(index=False) if args.csv else to_markdown(frame), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
