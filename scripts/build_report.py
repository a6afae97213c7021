from pathlib import Path

import pandas as pd

from actunlearn import report
from actunlearn.runlog import logged
from actunlearn.tables import connect

with logged(snakemake.log[0]):
    tables = {Path(p).stem: pd.read_csv(p) for p in snakemake.input.csv}
    with connect(snakemake.input.database, Path.cwd()) as con:
        training = con.execute("SELECT * FROM training_log ORDER BY model, epoch").df()
        unlearning = con.execute("SELECT * FROM unlearn_log ORDER BY checkpoint, step").df()
    out = snakemake.output
    report.training_curve(training, out.training_curve)
    report.forget_vs_retain(tables["method_comparison"], out.forget_vs_retain)
    report.unlearning_curve(unlearning, out.unlearning_curve)
    forget = ", ".join(snakemake.params.forget)
    report.write_html(out.html, f"actunlearn study: forgetting {forget}", (
        "Base: the testbed trained on the full corpus. retain_ref: trained without any line that "
        "mentions a forget target (the gold standard). Other rows: unlearned checkpoints "
        "(method_seedN). Held-out templates were never seen in training or unlearning."), [
        ("Method comparison", "Greedy recall by film role and template split; exposure = the "
         "forget target's probability and rank among all catalog titles where it used to be "
         "recommended; perplexity on held-out statements about retain films.",
         report.table(tables["method_comparison"])),
        ("Forget vs retain", "", report.image(out.forget_vs_retain, "forget vs retain")),
        ("Recommendation exposure by template split", "", report.table(tables["exposure"])),
        ("Testbed training", "", report.image(out.training_curve, "training curve")
         + report.table(tables["training"])),
        ("Unlearning runs", "", report.image(out.unlearning_curve, "unlearning curve")
         + report.table(tables["unlearning"])),
        ("Top-ranked neurons", "Per-layer normalised forget score minus retain score.",
         report.table(tables["top_neurons"])),
    ])
