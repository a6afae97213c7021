"""docs/results.md from the study's result tables (src/actunlearn/reporting/results_doc.py), and
the study's headline figure beside it for the README."""
import shutil
from pathlib import Path

import pandas as pd

from actunlearn.reporting.results_doc import read_models, read_runs, render, run_metadata
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp = snakemake.input
    runs = read_runs(*inp.runs)  # none recorded: no wall-time section
    models = read_models(snakemake.params.models, inp.results, inp.differences)
    rerun = pd.read_csv(inp.rerun[0]) if inp.rerun else None  # bench/metric_rerun.py
    meta = run_metadata(snakemake.params.cores, runs)
    tune_runs = read_runs(*inp.tune_runs)  # `make tune` wall times, if any
    Path(snakemake.output.doc).write_text(render(models, meta, runs, rerun,
                                                 dict(snakemake.params.tuning), tune_runs))
    shutil.copyfile(inp.figure, snakemake.output.figure)
