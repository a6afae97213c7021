# Sequential unlearning: forget unlearn.sequential.targets one after another, each step a
# checkpoint (full safetensors model), then evaluate every step.


rule unlearn_sequence:
    input:
        model="results/models/base",
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
        catalog=rules.build_catalog.output.catalog,
    output:
        checkpoints=directory("results/sequential/{method}_seed{seed}/checkpoints"),
        log="results/sequential/{method}_seed{seed}/log.parquet",
        ranking="results/sequential/{method}_seed{seed}/ranking.parquet",
    params:
        method=method_params,
        sequential=config["unlearn"]["sequential"],
        ranking=config["ranking"],
        neurons=config["neurons"],
        neighbours_by=config["catalog"]["neighbours_by"],
        refusal=config["corpus"]["refusal"],
    threads: 1
    log:
        "logs/unlearn_sequence/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/unlearn_sequence/{method}_seed{seed}.tsv"
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
        model="results/models/base",
        checkpoints=rules.unlearn_sequence.output.checkpoints,
        prompts=rules.build_corpus.output.prompts,
    output:
        recall="results/sequential/{method}_seed{seed}/recall.parquet",
        summary="results/sequential/{method}_seed{seed}/summary.parquet",
    params:
        sequential=config["unlearn"]["sequential"],
        evaluate=config["evaluate"],
        refusal=config["corpus"]["refusal"],
        seed=config["seed"],
    threads: 1
    log:
        "logs/evaluate_sequence/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/evaluate_sequence/{method}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/evaluate_sequence.py"
