rule relearn:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
    output:
        relearn="results/relearn/{checkpoint}.parquet",
    params:
        relearn=config["relearn"],
    threads: 1
    log:
        "logs/relearn/{checkpoint}.log",
    benchmark:
        "benchmarks/relearn/{checkpoint}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/relearn.py"
