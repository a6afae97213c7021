rule build_tables:
    input:
        summaries=eval_summaries(),
        unlearn_logs=unlearn_logs(),
        training_logs=expand("results/models/{variant}_training.parquet", variant=MODEL_VARIANTS),
        ranking=rules.rank_neurons.output.ranking,
        activations="results/activations/base.parquet",
        sql=[SQL_DIR / f"{table}.sql" for table in SQL_TABLES],
    output:
        database="results/actunlearn.duckdb",
        csv=expand("results/tables/{table}.csv", table=SQL_TABLES),
        markdown=expand("results/tables/{table}.md", table=SQL_TABLES),
    log:
        "logs/build_tables.log",
    benchmark:
        "benchmarks/build_tables.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_tables.py"


rule build_report:
    input:
        database=rules.build_tables.output.database,
        csv=rules.build_tables.output.csv,
    output:
        html=report(
            "results/report/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
        training_curve=report(
            "results/report/training_curve.png",
            caption="../report/training_curve.rst",
            category="Figures",
        ),
        forget_vs_retain=report(
            "results/report/forget_vs_retain.png",
            caption="../report/forget_vs_retain.rst",
            category="Figures",
        ),
        unlearning_curve=report(
            "results/report/unlearning_curve.png",
            caption="../report/unlearning_curve.rst",
            category="Figures",
        ),
    params:
        forget=config["catalog"]["forget"],
    log:
        "logs/build_report.log",
    benchmark:
        "benchmarks/build_report.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/build_report.py"
