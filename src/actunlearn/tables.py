"""DuckDB over the Parquet artifacts: views for every artifact, SQL files -> result tables.

View paths are relative to the project root; `connect` points DuckDB's file_search_path there,
so the database keeps working wherever the project folder is moved.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from tabulate import tabulate

VIEWS: dict[str, str] = {
    "catalog": "results/catalog/catalog.parquet",
    "corpus": "results/corpus/corpus.parquet",
    "prompts": "results/corpus/prompts.parquet",
    "training_log": "results/models/*_training.parquet",
    "activations": "results/activations/*.parquet",
    "neuron_scores": "results/neurons/scores.parquet",
    "neuron_ranking": "results/neurons/ranking.parquet",
    "unlearn_log": "results/unlearn/*/log.parquet",
    "eval_recall": "results/eval/*/recall.parquet",
    "eval_exposure": "results/eval/*/exposure.parquet",
    "eval_perplexity": "results/eval/*/perplexity.parquet",
    "eval_summary": "results/eval/*/summary.parquet",
}
# Artifacts whose file name is the checkpoint (no checkpoint column inside).
_FILE_NAMED = {"activations"}


def connect(db_path: str | Path, root: str | Path | None = None, read_only: bool = True):
    """Open the study database with relative artifact paths resolved against `root`
    (default: the folder holding `results/`)."""
    db_path = Path(db_path).resolve()
    root = Path(root) if root is not None else db_path.parent.parent
    con = duckdb.connect(str(db_path), read_only=read_only)
    con.execute(f"SET file_search_path = '{Path(root).resolve()}'")
    return con


def view_sql(name: str, pattern: str) -> str:
    if name in _FILE_NAMED:
        return (f"CREATE OR REPLACE VIEW {name} AS SELECT regexp_extract(filename, "
                f"'([^/]+)\\.parquet$', 1) AS checkpoint, * EXCLUDE (filename) "
                f"FROM read_parquet('{pattern}', filename = true)")
    return f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{pattern}')"


def build_database(db_path: str | Path, root: str | Path) -> list[str]:
    """(Re)create the database with one view per artifact that exists under `root`."""
    db_path = Path(db_path)
    if db_path.exists():
        db_path.unlink()
    made = []
    with connect(db_path, root, read_only=False) as con:
        for name, pattern in VIEWS.items():
            if list(Path(root).glob(pattern)):
                con.execute(view_sql(name, pattern))
                made.append(name)
    return made


def run_sql_file(con, path: str | Path) -> pd.DataFrame:
    return con.execute(Path(path).read_text()).df()


def to_markdown(df: pd.DataFrame) -> str:
    """A pipe table; floats with 3 decimals, integers as integers, missing values as '-'."""
    rows = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return tabulate(rows, headers=list(df.columns), tablefmt="pipe", floatfmt=".3f",
                    missingval="-") + "\n"
