"""Every model's result tables side by side (a `model` column first), and the study database."""
from pathlib import Path

import pandas as pd

from actunlearn.runlog import logged
from actunlearn.tables import build_database, to_markdown

with logged(snakemake.log[0]):
    views = build_database(snakemake.output.database, Path.cwd(), model=None)
    print("views:", ", ".join(views))
    models = list(snakemake.params.models)
    for csv, md in zip(snakemake.output.csv, snakemake.output.markdown):
        name = Path(csv).name
        parts = []
        for model in models:
            # a table's own `model` column (the testbed variant, in training) becomes `variant`,
            # as in the study database
            frame = pd.read_csv(f"results/{model}/tables/{name}").rename(columns={"model": "variant"})
            frame.insert(0, "model", model)
            parts.append(frame)
        table = pd.concat(parts, ignore_index=True)
        # integer columns stay integers where another model's table lacks them (a note row)
        for col in table.columns:
            kinds = {str(f[col].dtype) for f in parts if col in f and len(f)}
            if kinds and all(k.startswith("int") for k in kinds):
                table[col] = table[col].astype("Int64")
        table.to_csv(csv, index=False)
        Path(md).write_text(to_markdown(table))
        print(f"{name}: {len(table)} rows")
