rule summarise_methods:
    input:
        recall=lambda w: eval_files(w, "recall"),
        exposure=lambda w: eval_files(w, "exposure"),
        shift=lambda w: eval_files(w, "shift"),
        summary=eval_summaries,
        catalog=rules.build_catalog.output.catalog,
    output:
        results="results/{model}/summary/methods.parquet",
        differences="results/{model}/summary/differences.parquet",
    params:
        seed=setting("seed"),
        # methods whose handler ignores the seed (config.DETERMINISTIC_HANDLERS): run once
        deterministic=lambda w: deterministic_methods(w.model),
    threads: 1
    log:
        "logs/{model}/summarise_methods.log",
    benchmark:
        "benchmarks/{model}/summarise_methods.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/summarise_methods.py"


rule build_tables:
    input:
        summaries=eval_summaries,
        methods=rules.summarise_methods.output.results,
        unlearn_logs=unlearn_logs,
        training_logs=training_logs,
        knowledge=rules.check_knowledge.output.facts,
        ranking=rules.rank_neurons.output.ranking,
        activations="results/{model}/activations/base.parquet",
        probing=probing_outputs,
        sequential=sequence_outputs,
        drift=rules.recommendation_drift.output,
        reference=reference_outputs,
        tuning=rules.tuning_record.output.trials,
        audit=rules.audit.output,
        localize=localize_outputs,
        # the tables are a snapshot of the artifacts: bring-your-own results are built first
        byo=lambda w: [p for p in byo_outputs() if p.startswith(("results/byo/", f"results/{w.model}/"))],
        sql=[SQL_DIR / f"{table}.sql" for table in SQL_TABLES],
    output:
        database="results/{model}/actunlearn.duckdb",
        csv=expand("results/{{model}}/tables/{table}.csv", table=SQL_TABLES),
        markdown=expand("results/{{model}}/tables/{table}.md", table=SQL_TABLES),
    params:
        shift_bar=setting("evaluate", "shift", "bar"),
    log:
        "logs/{model}/build_tables.log",
    benchmark:
        "benchmarks/{model}/build_tables.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_tables.py"


rule build_report:
    input:
        catalog=rules.build_catalog.output.catalog,
        database=rules.build_tables.output.database,
        csv=rules.build_tables.output.csv,
    output:
        html=report(
            "results/{model}/report/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
        training_curve=report(
            "results/{model}/report/training_curve.png",
            caption="../report/training_curve.rst",
            category="Figures",
        ),
        forget_vs_retain=report(
            "results/{model}/report/forget_vs_retain.png",
            caption="../report/forget_vs_retain.rst",
            category="Figures",
        ),
        method_intervals=report(
            "results/{model}/report/method_intervals.png",
            caption="../report/method_intervals.rst",
            category="Figures",
        ),
        relearning=report(
            "results/{model}/report/relearning.png",
            caption="../report/relearning.rst",
            category="Figures",
        ),
        unlearning_curve=report(
            "results/{model}/report/unlearning_curve.png",
            caption="../report/unlearning_curve.rst",
            category="Figures",
        ),
        instability=report(
            "results/{model}/report/instability.png",
            caption="../report/instability.rst",
            category="Figures",
        ),
        activation_overlap=report(
            "results/{model}/report/activation_overlap.png",
            caption="../report/activation_overlap.rst",
            category="Figures",
        ),
        semantic_similarity=report(
            "results/{model}/report/semantic_similarity.png",
            caption="../report/semantic_similarity.rst",
            category="Figures",
        ),
        gradient_norms=report(
            "results/{model}/report/gradient_norms.png",
            caption="../report/gradient_norms.rst",
            category="Figures",
        ),
        neuron_agreement=report(
            "results/{model}/report/neuron_agreement.png",
            caption="../report/neuron_agreement.rst",
            category="Figures",
        ),
        contrast=report(
            "results/{model}/report/contrast.png",
            caption="../report/contrast.rst",
            category="Figures",
        ),
        shift_robustness=report(
            "results/{model}/report/shift_robustness.png",
            caption="../report/shift_robustness.rst",
            category="Figures",
        ),
        recommendation_drift=report(
            "results/{model}/report/recommendation_drift.png",
            caption="../report/recommendation_drift.rst",
            category="Figures",
        ),
        sequential=report(
            "results/{model}/report/sequential.png",
            caption="../report/sequential.rst",
            category="Figures",
        ),
        activation_shift=report(
            "results/{model}/report/activation_shift.png",
            caption="../report/activation_shift.rst",
            category="Figures",
        ),
        tuning=report(
            "results/{model}/report/tuning.png",
            caption="../report/tuning.rst",
            category="Figures",
        ),
        audit=report(
            "results/{model}/report/audit.png",
            caption="../report/audit.rst",
            category="Figures",
        ),
        localization=report(
            "results/{model}/report/localization.png",
            caption="../report/localization.rst",
            category="Figures",
        ),
    params:
        source=lambda w: config["models"][w.model]["source"],
    log:
        "logs/{model}/build_report.log",
    benchmark:
        "benchmarks/{model}/build_report.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_report.py"


# The study across models: every model's tables side by side (a `model` column first), one DuckDB
# database whose views cover every model's artifacts, and the study report.
rule build_study_tables:
    input:
        csv=expand("results/{model}/tables/{table}.csv", model=RUN_MODELS, table=SQL_TABLES),
        databases=expand("results/{model}/actunlearn.duckdb", model=RUN_MODELS),
    output:
        database="results/actunlearn.duckdb",
        csv=expand("results/tables/{table}.csv", table=SQL_TABLES),
        markdown=expand("results/tables/{table}.md", table=SQL_TABLES),
    params:
        models=RUN_MODELS,
    log:
        "logs/build_study_tables.log",
    benchmark:
        "benchmarks/build_study_tables.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_study_tables.py"


rule build_study_report:
    input:
        csv=rules.build_study_tables.output.csv,
        catalog=rules.build_catalog.output.catalog,
        results=expand("results/{model}/summary/methods.parquet", model=RUN_MODELS),
        drift=expand("results/{model}/report/recommendation_drift.png", model=RUN_MODELS),
        tuning=expand("results/{model}/report/tuning.png", model=RUN_MODELS),
        audit=expand("results/{model}/report/audit.png", model=RUN_MODELS),
        localization=expand("results/{model}/report/localization.png", model=RUN_MODELS),
        reports=expand("results/{model}/report/report.html", model=RUN_MODELS),
    output:
        html=report(
            "results/report/report.html",
            caption="../report/study.rst",
            category="Report",
        ),
        forget_vs_retain=report(
            "results/report/forget_vs_retain.png",
            caption="../report/forget_vs_retain.rst",
            category="Study figures",
        ),
        method_intervals=report(
            "results/report/method_intervals.png",
            caption="../report/method_intervals.rst",
            category="Study figures",
        ),
        shift_robustness=report(
            "results/report/shift_robustness.png",
            caption="../report/shift_robustness.rst",
            category="Study figures",
        ),
        relearning=report(
            "results/report/relearning.png",
            caption="../report/relearning.rst",
            category="Study figures",
        ),
    params:
        models=RUN_MODELS,
        sources={m: config["models"][m]["source"] for m in RUN_MODELS},
    log:
        "logs/build_study_report.log",
    benchmark:
        "benchmarks/build_study_report.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_study_report.py"


rule write_results:
    input:
        results=expand("results/{model}/summary/methods.parquet", model=RUN_MODELS),
        differences=expand("results/{model}/summary/differences.parquet", model=RUN_MODELS),
        csv=expand("results/{model}/tables/{table}.csv", model=RUN_MODELS, table=SQL_TABLES),
        # every recorded `make study` wall time (appended by the Makefile after a run), if any
        runs=lambda w: [f for f in ["docs/study_runs.csv"] if Path(f).exists()],
        # the measured metric-only rerun (bench/metric_rerun.py), if any
        rerun=lambda w: [f for f in ["docs/rerun_times.csv"] if Path(f).exists()],
        # every recorded `make tune` wall time, if any
        tune_runs=lambda w: [f for f in ["docs/tune_runs.csv"] if Path(f).exists()],
        figure="results/report/forget_vs_retain.png",
    output:
        doc="docs/results.md",
        figure="docs/forget_vs_retain.png",
    params:
        models=RUN_MODELS,
        cores=workflow.cores,
        # whether each model is tuned (its search is read from its committed trials, so that a
        # changed search space reruns no study job)
        tuning={m: pick(UNTUNED_CONFIG[m]["tuning"], ["enabled"]) for m in RUN_MODELS},
    log:
        "logs/write_results.log",
    benchmark:
        "benchmarks/write_results.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/write_results.py"
