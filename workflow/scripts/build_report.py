from pathlib import Path

import pandas as pd

from actunlearn import report
from actunlearn.runlog import logged
from actunlearn.tables import connect

# figure data: view -> ORDER BY (empty: none)
QUERIES = {
    "training": ("training_log", "model, epoch"),
    "unlearning": ("unlearn_log", "checkpoint, step"),
    "instability": ("instability", ""),
    "overlap": ("activation_overlap", "representation, layer"),
    "pairs": ("activation_overlap_pairs", ""),
    "semantic": ("semantic_similarity", "representation, layer"),
    "gradients": ("gradient_norms", "layer"),
    "agreement": ("neuron_agreement", "side, layer"),
    "contrast": ("neuron_contrast", ""),
    "shift": ("activation_shift", "checkpoint, layer"),
    "pca": ("activation_pca", ""),
    "drift": ("drift_intervals", ""),
    "sequence": ("sequence_summary", ""),
    "results": ("method_results", "method, metric"),
}

with logged(snakemake.log[0]):
    tables = {Path(p).stem: pd.read_csv(p) for p in snakemake.input.csv}
    with connect(snakemake.input.database, Path.cwd()) as con:
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        # a stage this model does not run (e.g. testbed training for a pretrained model): empty
        data = {name: con.execute(f"SELECT * FROM {view}" + (f" ORDER BY {order}" if order else ""))
                .df() if view in views else pd.DataFrame()
                for name, (view, order) in QUERIES.items()}
    out = snakemake.output

    def draw(figure, path, *frames, **kwargs):
        if any(f.empty or "note" in f.columns for f in frames):
            report.placeholder(path, "not in this study for this model")
        else:
            figure(*frames, path, **kwargs)

    draw(report.training_curve, out.training_curve, data["training"])
    draw(report.forget_vs_retain, out.forget_vs_retain, data["results"])
    draw(report.unlearning_curve, out.unlearning_curve, data["unlearning"])
    draw(report.instability_figure, out.instability, data["instability"])
    draw(report.overlap_figure, out.activation_overlap, data["overlap"], data["pairs"])
    draw(lambda t, p: report.by_layer_figure(t, "spearman", "representation", p, "Spearman rho",
                                             "Semantic vs activation similarity"),
         out.semantic_similarity, data["semantic"])
    draw(report.gradient_figure, out.gradient_norms, data["gradients"])
    draw(lambda t, p: report.by_layer_figure(t, "spearman", "side", p,
                                             "Spearman rho (saliency vs Fisher)",
                                             "Agreement of neuron scores"),
         out.neuron_agreement, data["agreement"])
    draw(report.contrast_figure, out.contrast, data["contrast"])
    draw(report.shift_figure, out.activation_shift, data["shift"], data["pca"])
    report.sequence_figure(data["sequence"], out.sequential)
    draw(report.shift_robustness_figure, out.shift_robustness, tables["shift_robustness"])
    draw(report.drift_figure, out.recommendation_drift, data["drift"])

    def section(heading, text, table=None, figure=None):
        body = (report.image(figure, heading) if figure else "") + \
            (report.table(tables[table]) if table else "")
        return heading, text, body

    catalog = pd.read_parquet(snakemake.input.catalog)
    forget = ", ".join(catalog.title[catalog.role == "forget"])
    model, source = snakemake.wildcards.model, snakemake.params.source
    if source == "testbed":
        intro = ("Base: the testbed trained on the full corpus. retain_ref: trained without any "
                 "line that mentions a forget target (the gold standard).")
    else:
        intro = (f"Base: the pretrained model as released (source {source}). It has no retain-only "
                 "reference (that would need pretraining without the target), so forget quality "
                 "and the relearning attack are testbed-only.")
    report.write_html(out.html, f"actunlearn study, model {model}: forgetting {forget}", (
        intro + " Other rows: unlearned checkpoints (method_seedN). Held-out templates were never "
        "seen in training or unlearning; train templates are in every trained method's forget "
        "or retain data (columns marked _train). Only the facts the base model knows are asked "
        "(knowledge check)."), [
        section("Knowledge check", "Facts (film, intent) asked on their train templates; known = "
                "greedy answer correct on at least knowledge.min_share of them.", "knowledge"),
        ("Methods (held-out prompts; design intervals)", "Headline columns (_held_out) are "
         "measured on prompts no method trained on: held-out templates of the forget films' facts, "
         "of their neighbours' and of other films', and recommendation contexts in held-out "
         "templates (exposure: the forget titles' probability and rank among the candidate "
         "titles). _train columns are the training templates, in every trained method's data. "
         "Each cell: the design mean over seeds, forget films and facts with its 95% crossed "
         "cluster-bootstrap interval, inside the metric's range; seeds, films and facts say how "
         "many stand behind it. A deterministic method runs once. forget_per_step / "
         "retain_per_step: examples per step; effective_params excludes LoRA columns frozen at "
         "zero (edited weights for methods that do not train).",
         report.table(tables["method_summary"])),
        section("Per forget film (held-out prompts)", "Each forget film's own recall, its "
                "neighbours' recall and its exposure, with intervals over seeds and facts.",
                "method_films"),
        section("Method comparison (every checkpoint)", "Greedy recall by film role and template "
                "split; exposure = the forget target's probability and rank among all catalog "
                "titles where it used to be recommended; perplexity on held-out statements about "
                "retain films.",
                "method_comparison"),
        section("Forget vs retain", "", figure=out.forget_vs_retain),
        section("Robustness under distribution shift", "Greedy recall per shift set (mean over "
                "seeds, 95% t interval over seeds in brackets): alias = the film described, not "
                "named; multihop = the film as the bridge of a two-hop question; typo, casing, "
                "filler, word_order = perturbed train templates; system_prompt = a system turn "
                "the model never saw. Forget recall above the original templates' shows where "
                "forgetting leaks.", "shift_robustness",
                out.shift_robustness),
        section("Forget quality and membership inference", "Per method, one value per fact "
                "(its paraphrases aggregated), mean over runs with the min and max. MIA AUC: forget "
                "facts (members) vs true facts of holdout films no model saw nor was taught to "
                "refuse, scored by loss or Min-K% Prob over the whole question and answer (k "
                "stated); the retain reference's AUC is the goal and the gap is |AUC - AUC_ref|. "
                "Forget quality: KS test of the forget facts' truth ratios against the retain "
                "reference's, per run; reported as the share of runs with p > 0.05 and the median "
                "p (p-values are never averaged).", "forget_quality"),
        section("Relearning attack", "A copy of each checkpoint fine-tuned for a few steps on "
                "some of the target's facts (forget_subset; measured on its other facts) or on "
                "neighbour films' facts only (neighbours); retain_ref shows what the attack teaches "
                "by itself. Mean over the attacked seeds; recovery with its 95% t interval.",
                "relearning"),
        section("Recommendation drift", "Ranked lists of all catalog titles by probability, "
                "per paraphrase of a recommendation request. paraphrase: agreement across "
                "paraphrases within a checkpoint; vs_base: agreement with the base model's list for "
                "the same prompt. Kendall tau-b puts items missing from one list at its bottom "
                "(tied); RBO is the extrapolated rank-biased overlap. legacy_embedding_tau is the "
                "original study's Kendall tau between two embedding vectors, not a ranking "
                "correlation, shown only to compare old numbers.", "recommendation_drift",
                out.recommendation_drift),
        section("Sequential unlearning", "Targets forgotten one after another (each step starts "
                "from the previous step's model, with a ranking computed on it). Recall of every "
                "target after each step: forgotten targets should stay forgotten, pending ones "
                "known.", "sequential", out.sequential),
        section("Recommendation exposure by template split", "", "exposure"),
        section("Testbed training", "", "training", out.training_curve),
        section("Unlearning runs", "", "unlearning", out.unlearning_curve),
        section("Prompt-perturbation instability", "Paraphrase families: every template of one "
                "(film, intent) question.", "instability", out.instability),
        section("Activation overlap", "Pooled activations of paraphrases vs other prompts.",
                "activation_overlap", out.activation_overlap),
        section("Semantic vs activation similarity", "Prompt-text embeddings from "
                "all-MiniLM-L6-v2.", "semantic_similarity", out.semantic_similarity),
        section("Gradient sensitivity", "Objective: log-likelihood of the gold answers.",
                "gradient_norms", out.gradient_norms),
        section("Saliency vs Fisher agreement", "Undefined correlations carry a note.",
                "neuron_agreement", out.neuron_agreement),
        section("Contrastive activation difference", "", figure=out.contrast),
        section("Neuron ranking and layer selection", "Top-ranked neurons and the layers "
                "unlearning uses.", "top_neurons"),
        section("Layer selection", "", "layer_selection"),
        section("Activation shift after unlearning", "", "activation_shift", out.activation_shift),
    ])
