# Recommendation drift over every checkpoint: ranked lists and responses of the drift families
# (written by the evaluation jobs), compared across paraphrases and against the base model.


rule forget_quality:
    input:
        facts=lambda w: eval_files(w, "facts"),
    output:
        summary="results/{model}/quality/summary.parquet",
        intervals="results/{model}/quality/intervals.parquet",
    threads: 1
    log:
        "logs/{model}/forget_quality.log",
    benchmark:
        "benchmarks/{model}/forget_quality.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/forget_quality.py"


rule recommendation_drift:
    input:
        recommendations=lambda w: eval_files(w, "recommendations"),
    output:
        pairs="results/{model}/drift/pairs.parquet",
        summary="results/{model}/drift/summary.parquet",
        intervals="results/{model}/drift/intervals.parquet",
    params:
        drift=settings("evaluate.drift", "jaccard_k", "rbo_p"),
    threads: 1
    log:
        "logs/{model}/recommendation_drift.log",
    benchmark:
        "benchmarks/{model}/recommendation_drift.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/recommendation_drift.py"
