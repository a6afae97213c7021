rule unlearn:
    input:
        model="results/{model}/models/base",
        ranking=rules.rank_neurons.output.ranking,
        corpus=rules.build_corpus.output.corpus,
        prompts=KNOWN_PROMPTS,
        all_prompts=rules.build_corpus.output.prompts,
        catalog=rules.build_catalog.output.catalog,
        answers=rules.check_knowledge.output.answers,
    output:
        checkpoint=directory("results/{model}/unlearn/{method}_seed{seed}/checkpoint"),
        log="results/{model}/unlearn/{method}_seed{seed}/log.parquet",
        # every prompt and corpus line this checkpoint trained on (or used, e.g. SSD's Fisher)
        manifest="results/{model}/unlearn/{method}_seed{seed}/manifest.parquet",
    params:
        method=method_params,
        refusal=mc("corpus", "refusal"),
        retain_data=mc("unlearn", "retain_data"),
        max_new_tokens=mc("evaluate", "max_new_tokens"),
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
