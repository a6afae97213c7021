"""docs/results.md from the study's result tables (src/actunlearn/reporting/results_doc.py)."""
from pathlib import Path

from actunlearn.reporting.results_doc import read_models, read_runs, render, run_metadata
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp = snakemake.input
    runs = read_runs(*inp.runs)  # none recorded: no wall-time section
    models = read_models(snakemake.params.models, inp.results, inp.differences)
    Path(snakemake.output.doc).write_text(render(models, run_metadata(snakemake.params.cores, runs),
                                                 runs))
