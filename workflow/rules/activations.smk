rule dump_activations:
    input:
        unpack(checkpoint_model),
        prompts=KNOWN_PROMPTS,
    output:
        activations="results/{model}/activations/{checkpoint}.parquet",
    params:
        dtype=setting("activations", "dtype"),
        batch_size=setting("inference", "batch_size"),
    wildcard_constraints:
        # unlearned checkpoints are dumped by their evaluation job (rules/evaluate.smk)
        checkpoint="base|retain_ref",
    threads: 1
    log:
        "logs/{model}/dump_activations/{checkpoint}.log",
    benchmark:
        "benchmarks/{model}/dump_activations/{checkpoint}.tsv"
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
        prompts=KNOWN_PROMPTS,
    output:
        activations=directory("results/{model}/activations/{checkpoint}_tokens"),
    params:
        activations=settings("activations", "dtype", "shard_rows"),
        batch_size=setting("inference", "batch_size"),
    threads: 1
    log:
        "logs/{model}/dump_token_activations/{checkpoint}.log",
    benchmark:
        "benchmarks/{model}/dump_token_activations/{checkpoint}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/dump_token_activations.py"
