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
    "knowledge": "{m}/knowledge/facts.parquet",
    "known_prompts": "{m}/knowledge/prompts.parquet",
    "training_log": "{m}/models/*_training.parquet",
    "activations": "{m}/activations/*.parquet",
    "neuron_scores": "{m}/neurons/scores.parquet",
    "neuron_ranking": "{m}/neurons/ranking.parquet",
    "neuron_layers": "{m}/neurons/layers.parquet",
    "neuron_contrast": "{m}/neurons/contrast.parquet",
    "gradient_norms": "{m}/neurons/gradient_norms.parquet",
    "neuron_agreement": "{m}/probing/neuron_agreement.parquet",
    "instability": "{m}/probing/instability/*.parquet",
    "activation_overlap": "{m}/probing/activation_overlap.parquet",
    "activation_overlap_pairs": "{m}/probing/activation_overlap_pairs.parquet",
    "semantic_similarity": "{m}/probing/semantic_similarity.parquet",
    "activation_shift": "{m}/probing/shift/*[0-9].parquet",
    "activation_pca": "{m}/probing/shift/*_pca.parquet",
    "unlearn_log": "{m}/unlearn/*/log.parquet",
    "eval_recall": "{m}/eval/*/recall.parquet",
    "eval_exposure": "{m}/eval/*/exposure.parquet",
    "eval_perplexity": "{m}/eval/*/perplexity.parquet",
    "eval_summary": "{m}/eval/*/summary.parquet",
    "eval_shift": "{m}/eval/*/shift.parquet",
    "eval_shift_summary": "{m}/eval/*/shift_summary.parquet",
    "eval_recommendations": "{m}/eval/*/recommendations.parquet",
    "eval_facts": "{m}/eval/*/facts.parquet",
    "method_results": "{m}/summary/methods.parquet",
    "method_differences": "{m}/summary/differences.parquet",
    "unlearn_manifest": "{m}/unlearn/*/manifest.parquet",
    "relearn": "{m}/relearn/attacks.parquet",
    "relearn_recovery": "{m}/relearn/recovery.parquet",
    "quality_summary": "{m}/quality/summary.parquet",
    "quality_intervals": "{m}/quality/intervals.parquet",
    "drift_pairs": "{m}/drift/pairs.parquet",
    "drift_summary": "{m}/drift/summary.parquet",
    "drift_intervals": "{m}/drift/intervals.parquet",
    "byo_drift_summary": "results/byo/*/summary.parquet",
    "byo_probes": "{m}/byo/probes/*[!y].parquet",
    "byo_probe_summary": "{m}/byo/probes/*_summary.parquet",
    "sequence_log": "{m}/sequential/*/log.parquet",
    "sequence_ranking": "{m}/sequential/*/ranking.parquet",
    "sequence_recall": "{m}/sequential/*/recall.parquet",
    "sequence_summary": "{m}/sequential/*/summary.parquet",
}
# Artifacts whose file name is the checkpoint (no checkpoint column inside).
_FILE_NAMED = {"activations"}
# Per-model artifacts live under results/{model}/ ("{m}" above). A model's database binds "{m}" to
# its folder; the study database (model None) reads every model's files and adds a `model` column
# taken from the path (the training log's own `model` column, the variant, becomes `variant`).
_RENAMED_IN_STUDY = {"training_log": "model AS variant"}

# eval_wide: eval_summary with one column per metric (NULL where a checkpoint lacks it); the
# metric names are those of actunlearn.evaluate.summarise.
SUMMARY_METRICS = (
    [f"{role}_{kind}_{split}" for role in ("forget", "neighbour", "retain", "unknown")
     for kind in ("recall", "refusal") for split in ("train", "held_out")]
    + ["exposure_logprob", "exposure_prob", "exposure_rank", "exposure_top1",
       "perplexity_retain", "perplexity_forget"])


def pattern(name: str, model: str | None) -> str:
    """The glob of view `name` relative to the project root: one model's files, or every
    model's (model None)."""
    return VIEWS[name].replace("{m}", f"results/{model}" if model else "results/*")


def per_model(name: str) -> bool:
    return "{m}" in VIEWS[name]


def eval_wide_sql(temp: bool, study: bool = False) -> str:
    columns = ",\n    ".join(f"max(value) FILTER (WHERE metric = '{m}') AS {m}"
                              for m in SUMMARY_METRICS)
    kind = "TEMP VIEW" if temp else "VIEW"
    keys = "model, checkpoint" if study else "checkpoint"
    return (f"CREATE OR REPLACE {kind} eval_wide AS SELECT {keys},\n    {columns}\n"
            f"FROM eval_summary GROUP BY {keys}")


def _present(root: Path, model: str | None) -> list[str]:
    return [name for name in VIEWS if any(root.glob(pattern(name, model)))]


def view_sql(name: str, glob: str, temp: bool = False, study: bool = False) -> str:
    """The view over the Parquet files matching `glob`; `study`: a model column from the path."""
    kind = "TEMP VIEW" if temp else "VIEW"
    columns = []
    if study and per_model(name):
        columns.append("regexp_extract(filename, '(^|/)results/([^/]+)/', 2) AS model")
    if name in _FILE_NAMED:
        columns.append("regexp_extract(filename, '([^/]+)\\.parquet$', 1) AS checkpoint")
    rest = "* EXCLUDE (filename)"
    if study and name in _RENAMED_IN_STUDY:
        rest += f" RENAME ({_RENAMED_IN_STUDY[name]})"
    # union_by_name: files of one artifact may differ in columns (e.g. per-method log terms)
    source = f"read_parquet('{glob}', union_by_name = true, filename = true)"
    return f"CREATE OR REPLACE {kind} {name} AS SELECT {', '.join(columns + [rest])} FROM {source}"


def _root_of(db_path: Path) -> Path:
    """The project folder: the parent of the `results` folder that holds the database."""
    for parent in db_path.parents:
        if parent.name == "results":
            return parent.parent
    return db_path.parent.parent


def connect(db_path: str | Path, root: str | Path | None = None):
    """Open a database (a model's or the study's) read-only, its views bound to the artifacts
    under `root` (default: the folder that holds `results/`), whatever the working directory."""
    db_path = Path(db_path).resolve()
    root = (Path(root) if root is not None else _root_of(db_path)).resolve()
    con = duckdb.connect(str(db_path), read_only=True)
    model = con.execute("SELECT model FROM actunlearn_meta").fetchone()[0]
    present = _present(root, model)
    for name in present:
        con.execute(view_sql(name, str(root / pattern(name, model)), temp=True,
                             study=model is None))
    if "eval_summary" in present:
        con.execute(eval_wide_sql(temp=True, study=model is None))
    return con


def build_database(db_path: str | Path, root: str | Path, model: str | None = None) -> list[str]:
    """(Re)create the database of one model (or, with model None, of the whole study: views over
    every model's artifacts with a `model` column) with one view per artifact under `root`."""
    db_path = Path(db_path)
    if db_path.exists():
        db_path.unlink()
    made = _present(Path(root), model)
    with duckdb.connect(str(db_path)) as con:
        con.execute("CREATE TABLE actunlearn_meta AS SELECT ?::VARCHAR AS model", [model])
        # views are bound when created: let relative paths resolve against `root`
        con.execute(f"SET file_search_path = '{Path(root).resolve()}'")
        for name in made:
            con.execute(view_sql(name, pattern(name, model), study=model is None))
        if "eval_summary" in made:
            con.execute(eval_wide_sql(temp=False, study=model is None))
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
