"""docs/results.md from the study's result tables (src/actunlearn/reporting/results_doc.py)."""
import os
import platform
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd

from actunlearn.reporting.results_doc import render
from actunlearn.runlog import logged

TABLES = {"Methods": "method_summary", "Per forget film": "method_films",
          "Does the mask help? (paired differences)": "method_differences",
          "Forget quality and membership inference": "forget_quality",
          "Relearning attack": "relearning", "Knowledge check": "knowledge"}

with logged(snakemake.log[0]):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    seconds = Path("results/study_seconds.txt")  # written by `make study` after the run
    meta = {"commit": commit, "date": date.today().isoformat(),
            "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs",
            "cores": snakemake.params.cores}
    if seconds.exists():
        meta["wall time"] = f"{int(seconds.read_text()) / 60:.1f} min (make study)"
    models = {}
    for model, results, differences in zip(snakemake.params.models, snakemake.input.results,
                                           snakemake.input.differences):
        tables = {title: pd.read_csv(f"results/{model}/tables/{name}.csv")
                  for title, name in TABLES.items()}
        models[model] = {"results": pd.read_parquet(results),
                         "differences": pd.read_parquet(differences), "tables": tables}
    Path(snakemake.output.doc).write_text(render(models, meta))
