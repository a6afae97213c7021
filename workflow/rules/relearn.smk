# One job attacks every checkpoint in turn (a job per checkpoint would mostly pay start-up).


rule relearn:
    input:
        unpack(relearn_inputs),
        prompts=KNOWN_PROMPTS,
    output:
        relearn="results/{model}/relearn/attacks.parquet",
        recovery="results/{model}/relearn/recovery.parquet",
    params:
        relearn=settings("relearn", "train_intents", "steps", "learning_rate", "batch_size"),
        checkpoints=lambda w: relearn_checkpoints(w.model),
    threads: 1
    log:
        "logs/{model}/relearn.log",
    benchmark:
        "benchmarks/{model}/relearn.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/relearn.py"
