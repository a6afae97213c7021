"""A model's database (its artifacts as tables, the activations as a view) and result tables."""
from pathlib import Path

from actunlearn.reporting.database import build_database, write_tables
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    made = build_database(snakemake.output.database, Path.cwd(), snakemake.wildcards.model,
                          sql=snakemake.input.sql, variables={"shift_bar": snakemake.params.shift_bar})
    print("relations:", ", ".join(made))
    rows = write_tables(snakemake.output.database, snakemake.output.csv, snakemake.output.markdown)
    for name, n in rows.items():
        print(f"{name}: {n} rows")
