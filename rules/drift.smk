# Recommendation drift over every checkpoint: ranked lists and responses of the drift families
# (written by the evaluation jobs), compared across paraphrases and against the base model.


rule forget_quality:
    input:
        facts=expand("results/eval/{checkpoint}/facts.parquet", checkpoint=all_checkpoints()),
    output:
        summary="results/quality/summary.parquet",
        intervals="results/quality/intervals.parquet",
    threads: 1
    log:
        "logs/forget_quality.log",
    benchmark:
        "benchmarks/forget_quality.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/forget_quality.py"


rule recommendation_drift:
    input:
        recommendations=expand("results/eval/{checkpoint}/recommendations.parquet",
                               checkpoint=all_checkpoints()),
    output:
        pairs="results/drift/pairs.parquet",
        summary="results/drift/summary.parquet",
        intervals="results/drift/intervals.parquet",
    params:
        drift=config["evaluate"]["drift"],
    threads: 1
    log:
        "logs/recommendation_drift.log",
    benchmark:
        "benchmarks/recommendation_drift.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/recommendation_drift.py"
