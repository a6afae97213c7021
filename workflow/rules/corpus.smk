rule build_corpus:
    input:
        catalog=rules.build_catalog.output.catalog,
    output:
        corpus="results/corpus/corpus.parquet",
        prompts="results/corpus/prompts.parquet",
    params:
        corpus=pick(config["corpus"], ["recommendations_per_film", "train_templates", "refusal",
                                       "noise_variants"], "corpus"),
        seed=config["seed"],
    log:
        "logs/build_corpus.log",
    benchmark:
        "benchmarks/build_corpus.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/build_corpus.py"


rule build_shift_sets:
    input:
        catalog=rules.build_catalog.output.catalog,
        prompts=rules.build_corpus.output.prompts,
    output:
        shift="results/corpus/shift_prompts.parquet",
    params:
        # one table for every configured model (run or not, so that leaving one out reruns
        # nothing): the union of their shift sets; each evaluation keeps its own
        shift={"templates": config["evaluate"]["shift"]["templates"],
               "sets": list(dict.fromkeys(s for m in config["models"] for s in
                                          model_config(config, m)["evaluate"]["shift"]["sets"]))},
        seed=config["seed"],
    log:
        "logs/build_shift_sets.log",
    benchmark:
        "benchmarks/build_shift_sets.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/build_shift_sets.py"
