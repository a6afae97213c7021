rule unlearn:
    input:
        model="results/{model}/models/base",
        # only for a method that reads it: a changed ranking reruns no other (config.reads_ranking)
        ranking=lambda w: (rules.rank_neurons.output.ranking if reads_ranking(method_params(w))
                           else []),
        corpus=rules.build_corpus.output.corpus,
        prompts=KNOWN_PROMPTS,
        all_prompts=rules.build_corpus.output.prompts,
        catalog=rules.build_catalog.output.catalog,
        # the base model's own answers: the retain data of unlearn.retain_data own_answers
        answers=lambda w: (rules.check_knowledge.output.answers
                           if MODEL_CONFIG[w.model]["unlearn"]["retain_data"] == "own_answers" else []),
    output:
        checkpoint=directory("results/{model}/unlearn/{method}_seed{seed}/checkpoint"),
        log="results/{model}/unlearn/{method}_seed{seed}/log.parquet",
        # every prompt and corpus line this checkpoint trained on (or used, e.g. SSD's Fisher)
        manifest="results/{model}/unlearn/{method}_seed{seed}/manifest.parquet",
    params:
        method=method_params,
        refusal=setting("corpus", "refusal"),
        retain_data=setting("unlearn", "retain_data"),
        max_new_tokens=setting("inference", "max_new_tokens"),
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
