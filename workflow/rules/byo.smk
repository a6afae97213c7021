# Bring your own data (config `byo`): drift of response logs made elsewhere, and a user's probe set
# asked of every checkpoint.


rule byo_drift:
    input:
        logs=lambda w: config["byo"]["logs"][w.name],
        catalog=rules.build_catalog.output.catalog,
    output:
        recommendations="results/byo/{name}/recommendations.parquet",
        pairs="results/byo/{name}/pairs.parquet",
        summary="results/byo/{name}/summary.parquet",
        intervals="results/byo/{name}/intervals.parquet",
    params:
        drift=pick(config["evaluate"]["drift"], ["jaccard_k", "rbo_p"], "evaluate.drift"),
        base=config["byo"]["base"],
    log:
        "logs/byo_drift/{name}.log",
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/byo_drift.py"


rule byo_probes:
    input:
        unpack(checkpoint_model),
        probes=lambda w: config["byo"]["probes"],
        catalog=rules.build_catalog.output.catalog,
    output:
        leaks="results/{model}/byo/probes/{checkpoint}.parquet",
        summary="results/{model}/byo/probes/{checkpoint}_summary.parquet",
    params:
        inference=settings("inference", "batch_size", "max_new_tokens"),
    threads: 1
    log:
        "logs/{model}/byo_probes/{checkpoint}.log",
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/byo_probes.py"
