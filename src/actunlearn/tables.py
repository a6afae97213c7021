"""DuckDB over the Parquet artifacts: views for every artifact, SQL files -> result tables.

The database file stores views with paths relative to the project root, so the `duckdb` shell
works on it from that folder wherever the project is moved. DuckDB resolves relative paths
against the working directory, so `connect` shadows them with temporary views on absolute
paths: queries through it work from any directory.
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
    "neuron_layers": "results/neurons/layers.parquet",
    "neuron_contrast": "results/neurons/contrast.parquet",
    "gradient_norms": "results/neurons/gradient_norms.parquet",
    "neuron_agreement": "results/probing/neuron_agreement.parquet",
    "instability": "results/probing/instability/*.parquet",
    "activation_overlap": "results/probing/activation_overlap.parquet",
    "activation_overlap_pairs": "results/probing/activation_overlap_pairs.parquet",
    "semantic_similarity": "results/probing/semantic_similarity.parquet",
    "activation_shift": "results/probing/shift/*[0-9].parquet",
    "activation_pca": "results/probing/shift/*_pca.parquet",
    "unlearn_log": "results/unlearn/*/log.parquet",
    "eval_recall": "results/eval/*/recall.parquet",
    "eval_exposure": "results/eval/*/exposure.parquet",
    "eval_perplexity": "results/eval/*/perplexity.parquet",
    "eval_summary": "results/eval/*/summary.parquet",
    "eval_shift": "results/eval/*/shift.parquet",
    "eval_shift_summary": "results/eval/*/shift_summary.parquet",
    "eval_recommendations": "results/eval/*/recommendations.parquet",
    "eval_facts": "results/eval/*/facts.parquet",
    "relearn": "results/relearn/attacks.parquet",
    "quality_summary": "results/quality/summary.parquet",
    "quality_intervals": "results/quality/intervals.parquet",
    "drift_pairs": "results/drift/pairs.parquet",
    "drift_summary": "results/drift/summary.parquet",
    "drift_intervals": "results/drift/intervals.parquet",
    "byo_drift_summary": "results/byo/*/summary.parquet",
    "byo_probes": "results/byo/probes/*[!y].parquet",
    "byo_probe_summary": "results/byo/probes/*_summary.parquet",
    "sequence_log": "results/sequential/*/log.parquet",
    "sequence_ranking": "results/sequential/*/ranking.parquet",
    "sequence_recall": "results/sequential/*/recall.parquet",
    "sequence_summary": "results/sequential/*/summary.parquet",
}
# Artifacts whose file name is the checkpoint (no checkpoint column inside).
_FILE_NAMED = {"activations"}

# eval_wide: eval_summary with one column per metric (NULL where a checkpoint lacks it); the
# metric names are those of actunlearn.evaluate.summarise.
SUMMARY_METRICS = (
    [f"{role}_{kind}_{split}" for role in ("forget", "neighbour", "retain", "unknown")
     for kind in ("recall", "refusal") for split in ("train", "held_out")]
    + ["exposure_logprob", "exposure_prob", "exposure_rank", "exposure_top1",
       "perplexity_retain", "perplexity_forget"])


def eval_wide_sql(temp: bool) -> str:
    columns = ",\n    ".join(f"max(value) FILTER (WHERE metric = '{m}') AS {m}"
                              for m in SUMMARY_METRICS)
    kind = "TEMP VIEW" if temp else "VIEW"
    return (f"CREATE OR REPLACE {kind} eval_wide AS SELECT checkpoint,\n    {columns}\n"
            "FROM eval_summary GROUP BY checkpoint")


def _present(root: Path) -> list[str]:
    return [name for name, pattern in VIEWS.items() if any(root.glob(pattern))]


def view_sql(name: str, pattern: str, temp: bool = False) -> str:
    kind = "TEMP VIEW" if temp else "VIEW"
    if name in _FILE_NAMED:
        return (f"CREATE OR REPLACE {kind} {name} AS SELECT regexp_extract(filename, "
                f"'([^/]+)\\.parquet$', 1) AS checkpoint, * EXCLUDE (filename) "
                f"FROM read_parquet('{pattern}', filename = true, union_by_name = true)")
    # union_by_name: files of one artifact may differ in columns (e.g. per-method log terms)
    return (f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM "
            f"read_parquet('{pattern}', union_by_name = true)")


def connect(db_path: str | Path, root: str | Path | None = None):
    """Open the study database read-only, its views bound to the artifacts under `root`
    (default: the folder that holds `results/`), whatever the working directory."""
    db_path = Path(db_path).resolve()
    root = (Path(root) if root is not None else db_path.parent.parent).resolve()
    con = duckdb.connect(str(db_path), read_only=True)
    present = _present(root)
    for name in present:
        con.execute(view_sql(name, str(root / VIEWS[name]), temp=True))
    if "eval_summary" in present:
        con.execute(eval_wide_sql(temp=True))
    return con


def build_database(db_path: str | Path, root: str | Path) -> list[str]:
    """(Re)create the database with one view per artifact that exists under `root`."""
    db_path = Path(db_path)
    if db_path.exists():
        db_path.unlink()
    made = _present(Path(root))
    with duckdb.connect(str(db_path)) as con:
        # views are bound when created: let relative paths resolve against `root`
        con.execute(f"SET file_search_path = '{Path(root).resolve()}'")
        for name in made:
            con.execute(view_sql(name, VIEWS[name]))
        if "eval_summary" in made:
            con.execute(eval_wide_sql(temp=False))
            made.append("eval_wide")
    return made


def run_sql_file(con, path: str | Path) -> pd.DataFrame:
    """The query's result; a query over an artifact this study did not produce (e.g. no
    sequential study configured) gives a one-row table that says so."""
    try:
        return con.execute(Path(path).read_text()).df()
    except duckdb.CatalogException as error:
        absent = [name for name in VIEWS if name not in _present_views(con)
                  and name in Path(path).read_text()]
        if not absent:
            raise
        return pd.DataFrame({"note": [f"not in this study: no {', '.join(absent)} artifacts "
                                      f"({error.__class__.__name__})"]})


def _present_views(con) -> set[str]:
    return {row[0] for row in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def to_markdown(df: pd.DataFrame) -> str:
    """A pipe table; floats with 3 decimals, integers as integers, missing values as '-'."""
    rows = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    return tabulate(rows, headers=list(df.columns), tablefmt="pipe", floatfmt=".3f",
                    missingval="-") + "\n"
