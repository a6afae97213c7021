rule unlearn:
    input:
        model="results/models/base",
        ranking=rules.rank_neurons.output.ranking,
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
    output:
        checkpoint=directory("results/unlearn/{method}_seed{seed}/checkpoint"),
        log="results/unlearn/{method}_seed{seed}/log.parquet",
    params:
        method=method_params,
        refusal=config["corpus"]["refusal"],
    threads: 1
    log:
        "logs/unlearn/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/unlearn/{method}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/unlearn.py"
