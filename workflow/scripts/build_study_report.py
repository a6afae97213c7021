"""The study report: every model side by side (tables from rule build_study_tables), with links to
each model's own report (figures and every table)."""
import html
from pathlib import Path

import pandas as pd

from actunlearn import report
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    tables = {Path(p).stem: pd.read_csv(p) for p in snakemake.input.csv}
    models, sources = list(snakemake.params.models), dict(snakemake.params.sources)

    def side_by_side(name):
        frame = tables[name]
        if "note" in frame.columns:   # a table some models lack: keep the rows that have data
            frame = frame[frame.note.isna()].drop(columns="note") if frame.note.isna().any() \
                else frame
        return report.table(frame)

    links = " · ".join(f'<a href="../{m}/report/report.html">{html.escape(m)}</a>'
                       for m in models)
    described = ", ".join(f"{m} ({sources[m]})" for m in models)
    catalog = pd.read_parquet(snakemake.input.catalog)
    forget = ", ".join(catalog.title[catalog.role == "forget"])
    report.write_html(snakemake.output.html, f"actunlearn study: forgetting {forget}", (
        f"Models: {described}. The testbed is trained from scratch on the catalog, so what it "
        "knows is exactly known and a retain-only reference exists; a pretrained model is "
        "checked first for the facts it knows, and only those are unlearned and evaluated. "
        "Each model's own report has every figure and table."), [
        ("Model reports", "", links),
        ("Knowledge check", "Facts asked per role and how many the base model knows.",
         side_by_side("knowledge")),
        ("Methods (held-out prompts; design intervals)", "Headline columns (_held_out): prompts "
         "no method trained on; _train columns: the training templates, in every trained "
         "method's data. Cells: design mean over seeds, forget films and facts with its 95% "
         "crossed cluster-bootstrap interval; seeds, films and facts state the n behind it. A "
         "pretrained model runs fewer methods and seeds (config models.*.overrides) and knows "
         "fewer facts (knowledge check).",
         side_by_side("method_summary")),
        ("Robustness under distribution shift", "Greedy recall per shift set.",
         side_by_side("shift_robustness")),
        ("Recommendation drift", "Agreement of ranked recommendation lists across paraphrases "
         "and with the base model.", side_by_side("recommendation_drift")),
        ("Forget quality and membership inference (testbed)", "Needs the retain-only reference.",
         side_by_side("forget_quality")),
        ("Relearning attack (testbed)", "", side_by_side("relearning")),
    ])
    print(f"study report: {len(models)} models")
