from pathlib import Path

from actunlearn.runlog import logged
from actunlearn.tables import build_database, connect, run_sql_file, to_markdown

with logged(snakemake.log[0]):
    views = build_database(snakemake.output.database, Path.cwd(), snakemake.wildcards.model)
    print("views:", ", ".join(views))
    with connect(snakemake.output.database, Path.cwd()) as con:
        for sql, csv, md in zip(snakemake.input.sql, snakemake.output.csv, snakemake.output.markdown):
            table = run_sql_file(con, sql)
            table.to_csv(csv, index=False)
            Path(md).write_text(to_markdown(table))
            print(f"{sql}: {len(table)} rows")
