rule build_tokenizer:
    input:
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
    output:
        tokenizer=directory("results/models/tokenizer"),
    log:
        "logs/build_tokenizer.log",
    benchmark:
        "benchmarks/build_tokenizer.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/build_tokenizer.py"


# base: the full corpus; retain_ref: the corpus without any line that mentions a forget target
# (the gold standard that unlearning is compared to).
rule train_testbed:
    input:
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
        tokenizer=rules.build_tokenizer.output.tokenizer,
    output:
        model=directory("results/models/{variant}"),
        log="results/models/{variant}_training.parquet",
    params:
        testbed=config["testbed"],
        seed=config["seed"],
    threads: 1
    log:
        "logs/train_testbed/{variant}.log",
    benchmark:
        "benchmarks/train_testbed/{variant}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/train_testbed.py"
