"""DuckDB over the Parquet artifacts: a database file any DuckDB client opens from anywhere.

A database (`results/{model}/actunlearn.duckdb`, or the study's `results/actunlearn.duckdb`)
holds every artifact as a real table (schema `main`, read from the Parquet files when the
database is built), the result tables of `sql/*.sql` (schema `tables`), the derived view
`eval_wide`, and `actunlearn_meta` (one row: `model`, null in the study database, and `root`,
the project folder the database was built for). Only the activation dumps, too large to copy
(hundreds of MB against a few MB for everything else), stay views over their Parquet files, by
absolute path: they resolve from any working directory and in any client, and a moved or deleted
results folder makes them fail naming the path they expected (`actunlearn sql` adds that the
database was built for another folder, and how to rebuild it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from tabulate import tabulate

ARTIFACTS: dict[str, str] = {
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
    "tuning_trials": "{m}/tuned/trials.parquet",
    "audit_answers": "{m}/audit/answers.parquet",
    "audit_exposure": "{m}/audit/exposure.parquet",
    "audit_attacks": "{m}/audit/attacks.parquet",
    "audit_probes": "{m}/audit/probes.parquet",
    "audit_lens": "{m}/audit/lens.parquet",
    "audit_readouts": "{m}/audit/readouts.parquet",
    "localization": "{m}/localize/planted.parquet",
    "planted_neurons": "{m}/localize/planted_neurons.parquet",
    "deletion_curve": "{m}/localize/deletion.parquet",
}
# Too large to copy into the database (the default study: ~320 MB of Parquet, against ~16 MB for
# every other artifact together): views over the files, by absolute path.
LARGE = {"activations"}
# Artifacts whose file name is the checkpoint (no checkpoint column inside).
_FILE_NAMED = {"activations"}
# Per-model artifacts live under results/{model}/ ("{m}" above). The study database stacks the
# models' tables with a leading `model` column; a column already called `model` (the testbed
# variant, in the training log and its table) becomes `variant`.
# The schema of the result tables (sql/NAME.sql -> tables.NAME, as results/{model}/tables/).
RESULT_SCHEMA = "tables"

# eval_wide: eval_summary with one column per metric (NULL where a checkpoint lacks it); the
# metric names are those of actunlearn.evaluation.answers.summarise.
SUMMARY_METRICS = (
    [f"{role}_{kind}_{split}" for role in ("forget", "neighbour", "retain", "unknown")
     for kind in ("recall", "refusal") for split in ("train", "held_out")]
    + ["exposure_logprob", "exposure_prob", "exposure_rank", "exposure_top1",
       "perplexity_retain", "perplexity_forget"])


def pattern(name: str, model: str) -> str:
    """The glob of artifact `name` of `model`, relative to the project root."""
    return ARTIFACTS[name].replace("{m}", f"results/{model}")


def per_model(name: str) -> bool:
    return "{m}" in ARTIFACTS[name]


def _quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _source(name: str, glob: str, model: str | None = None) -> str:
    """SELECT of one artifact's files (a `checkpoint` column from the name where files carry it;
    with `model`, a leading `model` column); union_by_name: files of one artifact may differ in
    columns (e.g. per-method log terms)."""
    columns = ["* EXCLUDE (filename)"]
    if name in _FILE_NAMED:
        columns.insert(0, "regexp_extract(filename, '([^/]+)\\.parquet$', 1) AS checkpoint")
    if model is not None:
        columns.insert(0, f"{_quote(model)} AS model")
    return (f"SELECT {', '.join(columns)} FROM read_parquet({_quote(glob)}, "
            "union_by_name = true, filename = true)")


def eval_wide_sql(study: bool = False) -> str:
    columns = ",\n    ".join(f"max(value) FILTER (WHERE metric = '{m}') AS {m}"
                              for m in SUMMARY_METRICS)
    keys = "model, checkpoint" if study else "checkpoint"
    return (f"CREATE VIEW eval_wide AS SELECT {keys},\n    {columns}\n"
            f"FROM eval_summary GROUP BY {keys}")


def _root_of(db_path: Path) -> Path:
    """The project folder: the parent of the `results` folder that holds the database."""
    for parent in db_path.parents:
        if parent.name == "results":
            return parent.parent
    return db_path.parent.parent


def _meta(con, model: str | None, root: Path) -> None:
    con.execute("CREATE TABLE actunlearn_meta AS SELECT ?::VARCHAR AS model, ?::VARCHAR AS root",
                [model, str(root)])
    con.execute("COMMENT ON TABLE actunlearn_meta IS 'the model (null: the study) and the project "
                "folder this database was built for'")


def _large_view(con, name: str, sources: list[tuple[str | None, str]]) -> None:
    """View `name` over the files of (model or None, absolute glob) sources."""
    parts = [_source(name, glob, model) for model, glob in sources]
    con.execute(f"CREATE VIEW {name} AS " + " UNION ALL BY NAME ".join(parts))
    con.execute(f"COMMENT ON VIEW {name} IS " + _quote(
        f"reads {', '.join(glob for _, glob in sources)} (absolute paths: if that folder moved, "
        "rebuild this database, e.g. snakemake --forcerun build_tables build_study_tables)"))


# The file format: readable by every DuckDB since 1.0 (the default, the writer's own newest
# format, is not: DuckDB 1.4 refuses a file DuckDB 2.0 writes by default); 16 KiB blocks instead
# of 256 KiB, as the database holds ~60 small tables (the default study's model databases: about
# half the size). Writing with these options needs DuckDB >= 1.2.
FILE_OPTIONS = "BLOCK_SIZE 16384, STORAGE_VERSION 'v1.0.0'"


@contextmanager
def _replace(db_path: Path):
    """A connection to a fresh file beside `db_path` (the default database), moved over it when
    the block succeeds: a reader never sees a half-built database."""
    tmp = db_path.with_name(db_path.name + ".building")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_quote(tmp)} AS building ({FILE_OPTIONS})")
        con.execute("USE building")
        yield con
        con.close()  # checkpoints: everything is in the file, no .wal beside it
        os.replace(tmp, db_path)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)


def build_database(db_path: str | Path, root: str | Path, model: str,
                   sql: Iterable[str | Path] = (), variables: Mapping | None = None) -> list[str]:
    """(Re)create the database of `model` from the artifacts under `root`: a table per artifact
    present (the activation dumps: a view by absolute path), `eval_wide`, and for each file of
    `sql` its result as table `tables.NAME`; `variables` (name -> number) are set first, for the
    SQL's `getvariable(name)` (e.g. the shift bar). Returns the relations made."""
    db_path, root = Path(db_path), Path(root).resolve()
    present = [name for name in ARTIFACTS if any(root.glob(pattern(name, model)))]
    made = []
    with _replace(db_path) as con:
        _meta(con, model, root)
        for name in present:
            glob = str(root / pattern(name, model))
            if name in LARGE:
                _large_view(con, name, [(None, glob)])
            else:
                con.execute(f"CREATE TABLE {name} AS {_source(name, glob)}")
                con.execute(f"COMMENT ON TABLE {name} IS " + _quote(f"from {pattern(name, model)}"))
            made.append(name)
        if "eval_summary" in present:
            con.execute(eval_wide_sql())
            made.append("eval_wide")
        for name, value in (variables or {}).items():
            con.execute(f"SET VARIABLE {name} = ?", [value])
        sql = list(sql)
        if sql:
            con.execute(f"CREATE SCHEMA {RESULT_SCHEMA}")
        for path in sql:
            made.append(_store_result(con, Path(path)))
    return made


def _store_result(con, path: Path) -> str:
    """Table tables.NAME: the result of sql/NAME.sql, or its note where an artifact is absent."""
    name = f"{RESULT_SCHEMA}.{path.stem}"
    try:
        con.execute(f"CREATE TABLE {name} AS {path.read_text().strip().rstrip(';')}")
    except duckdb.CatalogException as error:
        con.register("absent_note", _absent_note(con, path.read_text(), error))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM absent_note")
        con.unregister("absent_note")
    con.execute(f"COMMENT ON TABLE {name} IS " + _quote(f"result of sql/{path.name}"))
    return name


def build_study_database(db_path: str | Path, databases: Mapping[str, str | Path]) -> list[str]:
    """(Re)create the study database from the models' databases ({model: path}): each per-model
    table stacked over the models with a leading `model` column (a table's own `model` column
    becomes `variant`), shared tables (catalog, corpus, ...) once, the activation view over every
    model's files, `eval_wide` keyed by model and checkpoint, and the stacked result tables
    `tables.NAME`. Returns the relations made."""
    db_path = Path(db_path)
    aliases = {model: f"model_{i}" for i, model in enumerate(databases)}
    made = []
    with _replace(db_path) as con:
        for model, path in databases.items():
            con.execute(f"ATTACH {_quote(Path(path).resolve())} AS {aliases[model]} (READ_ONLY)")
        roots = {con.execute(f"SELECT root FROM {alias}.actunlearn_meta").fetchone()[0]
                 for alias in aliases.values()}
        if len(roots) > 1:
            raise ValueError(f"the model databases were built for different folders: {sorted(roots)}")
        root = Path(roots.pop()) if roots else _root_of(db_path.resolve())
        _meta(con, None, root)
        have = {model: _relations(con, alias) for model, alias in aliases.items()}
        for name in ARTIFACTS:
            models = [m for m in databases if name in have[m]]
            if not models:
                continue
            if name in LARGE:
                _large_view(con, name, [(m, str(root / pattern(name, m))) for m in models])
            else:
                con.execute(f"CREATE TABLE {name} AS " + (
                    _stacked(con, aliases, models, name) if per_model(name)
                    else f"SELECT * FROM {aliases[models[0]]}.{name}"))
                con.execute(f"COMMENT ON TABLE {name} IS " + _quote(
                    f"from {pattern(name, '{model}')}"
                    + (f" of {', '.join(models)}" if per_model(name) else "")))
            made.append(name)
        if "eval_summary" in made:
            con.execute(eval_wide_sql(study=True))
            made.append("eval_wide")
        results = sorted({n for m in databases for n in have[m] if n.startswith(RESULT_SCHEMA + ".")})
        if results:
            con.execute(f"CREATE SCHEMA {RESULT_SCHEMA}")
        for name in results:
            models = [m for m in databases if name in have[m]]
            con.execute(f"CREATE TABLE {name} AS " + _stacked(con, aliases, models, name))
            con.execute(f"COMMENT ON TABLE {name} IS " + _quote(
                f"result of sql/{name.split('.', 1)[1]}.sql of {', '.join(models)}"))
            made.append(name)
        for alias in aliases.values():
            con.execute(f"DETACH {alias}")
    return made


def _stacked(con, aliases: Mapping[str, str], models: list[str], name: str) -> str:
    """The models' relation `name` one under the other (columns matched by name), `model` first."""
    parts = []
    for model in models:
        relation = f"{aliases[model]}.{name}"
        columns = {row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()}
        rename = " RENAME (model AS variant)" if "model" in columns else ""
        parts.append(f"SELECT {_quote(model)} AS model, *{rename} FROM {relation}")
    return " UNION ALL BY NAME ".join(parts)


def _relations(con, database: str | None = None) -> set[str]:
    """Names of a database's tables and views (`tables.NAME` for result tables; none of DuckDB's
    own), of the default database when `database` is None."""
    where = ("database_name = current_database()" if database is None
             else f"database_name = {_quote(database)}")
    rows = con.execute(
        f"SELECT schema_name, table_name FROM duckdb_tables() WHERE {where} AND NOT internal "
        f"UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE {where} "
        "AND NOT internal AND NOT temporary").fetchall()
    return {name if schema == "main" else f"{schema}.{name}" for schema, name in rows}


def moved(con, db_path: str | Path) -> str | None:
    """Why the activation view of database `db_path` (open as `con`) may read the wrong files or
    none: the project folder it was built for is not the one it lies in. None when it is (or
    when `con` is not an actunlearn database)."""
    try:
        built = Path(con.execute("SELECT root FROM actunlearn_meta").fetchone()[0])
    except (duckdb.Error, TypeError):
        return None
    now = _root_of(Path(db_path).resolve())
    if built == now:
        return None
    return (f"the database was built for {built}/results and now lies in {now}/results; its "
            f"activations view reads {built}/results: rebuild it where it lies, e.g. snakemake "
            "--forcerun build_tables build_study_tables")


def connect(db_path: str | Path, root: str | Path | None = None):
    """Open a database read-only (a plain `duckdb.connect(path, read_only=True)` does the same).
    With `root`: check the database was built for that project folder (its activation view reads
    files there), and raise ValueError saying so if not."""
    con = duckdb.connect(str(Path(db_path)), read_only=True)
    if root is not None:
        built = Path(con.execute("SELECT root FROM actunlearn_meta").fetchone()[0])
        if built != Path(root).resolve():
            con.close()
            raise ValueError(f"{db_path} was built for {built}, not {Path(root).resolve()}: "
                             "rebuild it (snakemake --forcerun build_tables build_study_tables)")
    return con


def _absent_note(con, text: str, error: Exception) -> pd.DataFrame:
    """A one-row table naming the artifacts a query needs that this database lacks; the error
    again when the query fails for another reason."""
    have = _relations(con)
    absent = [name for name in ARTIFACTS if name not in have and name in text]
    if not absent:
        raise error
    return pd.DataFrame({"note": [f"not in this study: no {', '.join(absent)} artifacts "
                                  f"({error.__class__.__name__})"]})


def run_sql_file(con, path: str | Path) -> pd.DataFrame:
    """The query's result; a query over an artifact this study did not produce (e.g. no
    sequential study configured) gives a one-row table that says so."""
    text = Path(path).read_text()
    try:
        return con.execute(text).df()
    except duckdb.CatalogException as error:
        return _absent_note(con, text, error)


def write_tables(db_path: str | Path, csv_paths: Iterable[str | Path],
                 markdown_paths: Iterable[str | Path]) -> dict[str, int]:
    """Write result table `tables.NAME` of a database as NAME.csv and NAME.md (the names of the
    paths given); returns the rows of each."""
    rows = {}
    with connect(db_path) as con:
        for csv, md in zip(csv_paths, markdown_paths, strict=True):
            name = Path(csv).stem
            table = con.execute(f"SELECT * FROM {RESULT_SCHEMA}.{name}").df()
            table.to_csv(csv, index=False)
            Path(md).write_text(to_markdown(table))
            rows[name] = len(table)
    return rows


def to_markdown(df: pd.DataFrame) -> str:
    """A pipe table; floats with 3 decimals, integers as integers, missing values as '-'; text
    as written (a cell "+1.27e-06" stays that, not the number 0.000). A table without rows is
    its header (tabulate fails on per-column options without rows)."""
    rows = df.astype(object).where(df.notna(), None).to_numpy().tolist()
    text = [i for i, col in enumerate(df.columns) if not pd.api.types.is_numeric_dtype(df[col])]
    return tabulate(rows, headers=list(df.columns), tablefmt="pipe", floatfmt=".3f",
                    missingval="-", disable_numparse=text if rows else True) + "\n"
