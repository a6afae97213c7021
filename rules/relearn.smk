# One job attacks every checkpoint in turn (a job per checkpoint would mostly pay start-up).


rule relearn:
    input:
        unpack(relearn_inputs),
        prompts=rules.build_corpus.output.prompts,
    output:
        relearn="results/relearn/attacks.parquet",
    params:
        relearn=config["relearn"],
        checkpoints=relearn_checkpoints(),
    threads: 1
    log:
        "logs/relearn.log",
    benchmark:
        "benchmarks/relearn.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/relearn.py"
