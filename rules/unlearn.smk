rule unlearn:
    input:
        model="results/{model}/models/base",
        ranking=rules.rank_neurons.output.ranking,
        corpus=rules.build_corpus.output.corpus,
        prompts=KNOWN_PROMPTS,
        answers=rules.check_knowledge.output.answers,
    output:
        checkpoint=directory("results/{model}/unlearn/{method}_seed{seed}/checkpoint"),
        log="results/{model}/unlearn/{method}_seed{seed}/log.parquet",
    params:
        method=method_params,
        refusal=mc("corpus", "refusal"),
        retain_data=mc("unlearn", "retain_data"),
    threads: 1
    log:
        "logs/{model}/unlearn/{method}_seed{seed}.log",
    benchmark:
        "benchmarks/{model}/unlearn/{method}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/unlearn.py"
