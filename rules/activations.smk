rule dump_activations:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
    output:
        activations="results/activations/{checkpoint}.parquet",
    params:
        activations=config["activations"],
        batch_size=config["evaluate"]["batch_size"],
    wildcard_constraints:
        # unlearned checkpoints are dumped by their evaluation job (rules/evaluate.smk)
        checkpoint="|".join(MODEL_VARIANTS),
    threads: 1
    log:
        "logs/dump_activations/{checkpoint}.log",
    benchmark:
        "benchmarks/dump_activations/{checkpoint}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/dump_activations.py"


rule dump_token_activations:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
    output:
        activations=directory("results/activations/{checkpoint}_tokens"),
    params:
        activations=config["activations"],
        batch_size=config["evaluate"]["batch_size"],
    threads: 1
    log:
        "logs/dump_token_activations/{checkpoint}.log",
    benchmark:
        "benchmarks/dump_token_activations/{checkpoint}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/dump_token_activations.py"
