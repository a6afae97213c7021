"""The study database: every model's tables stacked with a `model` column; the result tables."""
from actunlearn.reporting.database import build_study_database, write_tables
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    databases = dict(zip(snakemake.params.models, snakemake.input.databases, strict=True))
    made = build_study_database(snakemake.output.database, databases)
    print("relations:", ", ".join(made))
    rows = write_tables(snakemake.output.database, snakemake.output.csv, snakemake.output.markdown)
    for name, n in rows.items():
        print(f"{name}: {n} rows")
