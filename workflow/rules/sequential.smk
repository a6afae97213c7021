# Sequential unlearning: forget unlearn.sequential.targets one after another, each step a
# checkpoint (full safetensors model), then evaluate every step.


rule unlearn_sequence:
    input:
        model="results/{model}/models/base",
        corpus=rules.build_corpus.output.corpus,
        prompts=KNOWN_PROMPTS,
        catalog=rules.build_catalog.output.catalog,
    output:
        checkpoints=directory("results/{model}/sequential/{method}_seed{seed}/checkpoints"),
        log="results/{model}/sequential/{method}_seed{seed}/log.parquet",
        ranking="results/{model}/sequential/{method}_seed{seed}/ranking.parquet",
        manifest="results/{model}/sequential/{method}_seed{seed}/manifest.parquet",
    params:
        method=method_params,
        targets=setting("unlearn", "sequential", "targets"),
        # each step ranks neurons again, on the model it starts from
        ranking=settings("ranking", "scores", "contrast", "normalise", "combine", "weights",
                         "layers.select", "layers.top", "layers.explicit", "layers.by"),
        neurons=settings("neurons", "retain_prompts", "batch_size"),
        neighbours_by=setting("catalog", "neighbours_by"),
        refusal=setting("corpus", "refusal"),
        max_new_tokens=setting("inference", "max_new_tokens"),
    threads: 1
    log:
        "logs/{model}/unlearn_sequence/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/{model}/unlearn_sequence/{method}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/unlearn_sequence.py"


rule evaluate_sequence:
    input:
        model="results/{model}/models/base",
        checkpoints=rules.unlearn_sequence.output.checkpoints,
        prompts=KNOWN_PROMPTS,
        catalog=rules.build_catalog.output.catalog,
    output:
        recall="results/{model}/sequential/{method}_seed{seed}/recall.parquet",
        summary="results/{model}/sequential/{method}_seed{seed}/summary.parquet",
    params:
        sequential=settings("unlearn.sequential", "targets", "retain_films"),
        inference=settings("inference", "batch_size", "max_new_tokens"),
        refusal=setting("corpus", "refusal"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/evaluate_sequence/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/{model}/evaluate_sequence/{method}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/evaluate_sequence.py"
