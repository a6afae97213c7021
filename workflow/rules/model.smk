rule build_tokenizer:
    input:
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
    output:
        tokenizer=directory("results/tokenizer"),
    params:
        vocab_size=config["testbed"]["vocab_size"],
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
        model=directory("results/{model}/models/{variant}"),
        log="results/{model}/models/{variant}_training.parquet",
    wildcard_constraints:
        model=_alternation(TESTBED_MODELS),
    params:
        testbed=settings("testbed", "hidden_size", "intermediate_size", "num_layers", "num_heads",
                         "epochs", "batch_size", "learning_rate", "warmup_steps"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/train_testbed/{variant}.log",
    benchmark:
        "benchmarks/{model}/train_testbed/{variant}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/train_testbed.py"


# A pretrained model (source hf or gguf): a GGUF file is converted once into a safetensors folder;
# a hub id or local folder is recorded in a model card (actunlearn_model.json) and loaded from
# there (local cache, no remote code unless the config says so).
rule prepare_model:
    output:
        model=directory("results/{model}/models/base"),
    wildcard_constraints:
        model=_alternation(PRETRAINED_MODELS),
    params:
        # what the model card records (its overrides are settings of later stages)
        spec=lambda w: pick(config["models"][w.model],
                            [k for k in config["models"][w.model] if k != "overrides"], "models"),
        cache="results/cache",
    threads: 1
    log:
        "logs/{model}/prepare_model.log",
    benchmark:
        "benchmarks/{model}/prepare_model.tsv"
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        ENV
    script:
        "../scripts/prepare_model.py"


# The facts the base model knows: greedy answers to the train templates of forget, neighbour and
# (a sample of) retain films. Every later model-reading rule asks only the known facts.
rule check_knowledge:
    input:
        model="results/{model}/models/base",
        prompts=rules.build_corpus.output.prompts,
    output:
        facts="results/{model}/knowledge/facts.parquet",
        answers="results/{model}/knowledge/answers.parquet",
        prompts=KNOWN_PROMPTS,
    params:
        knowledge=settings("knowledge", "retain_films", "unknown_films", "intents", "min_share"),
        inference=settings("inference", "batch_size", "max_new_tokens"),
        refusal=setting("corpus", "refusal"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/check_knowledge.log",
    benchmark:
        "benchmarks/{model}/check_knowledge.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/check_knowledge.py"
