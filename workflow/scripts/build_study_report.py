"""The study report: the verdict per model and every model side by side (tables from rule
build_study_tables), with links to each model's own report (actunlearn.reporting.pages.study_report)."""
from pathlib import Path

import pandas as pd

from actunlearn.reporting import pages as reporting
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    models = list(snakemake.params.models)
    catalog = pd.read_parquet(snakemake.input.catalog)
    verdicts = reporting.study_report(
        models=models,
        sources=dict(snakemake.params.sources),
        forget_titles=list(catalog.title[catalog.role == "forget"]),
        tables={Path(p).stem: pd.read_csv(p) for p in snakemake.input.csv},
        results={m: pd.read_parquet(p) for m, p in zip(models, snakemake.input.results)},
        model_pngs={m: {"recommendation_drift": d, "tuning": t, "audit": a, "localization": z}
                    for m, d, t, a, z in zip(models, snakemake.input.drift, snakemake.input.tuning,
                                             snakemake.input.audit,
                                             snakemake.input.localization)},
        out=dict(snakemake.output.items()),
        captions=reporting.read_captions(Path(snakemake.scriptdir).parent / "report"),
    )
    for verdict in verdicts:
        print(verdict.model, reporting.summary_sentence(verdict))
