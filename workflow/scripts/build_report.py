"""One model's report: its verdict, figures and tables (actunlearn.reporting.pages.model_report)."""
from pathlib import Path

import pandas as pd

from actunlearn.reporting import pages as reporting
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    catalog = pd.read_parquet(snakemake.input.catalog)
    verdict = reporting.model_report(
        model=snakemake.wildcards.model,
        source=snakemake.params.source,
        forget_titles=list(catalog.title[catalog.role == "forget"]),
        database=snakemake.input.database,
        root=Path.cwd(),
        tables={Path(p).stem: pd.read_csv(p) for p in snakemake.input.csv},
        out=dict(snakemake.output.items()),
        captions=reporting.read_captions(Path(snakemake.scriptdir).parent / "report"),
    )
    print(reporting.summary_sentence(verdict))
