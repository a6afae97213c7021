rule score_neurons:
    input:
        model="results/models/base",
        prompts=rules.build_corpus.output.prompts,
    output:
        scores="results/neurons/scores.parquet",
        gradient_norms="results/neurons/gradient_norms.parquet",
    params:
        neurons=config["neurons"],
        seed=config["seed"],
    threads: 1
    log:
        "logs/score_neurons.log",
    benchmark:
        "benchmarks/score_neurons.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/score_neurons.py"


rule rank_neurons:
    input:
        scores=rules.score_neurons.output.scores,
        contrast="results/neurons/contrast.parquet",
    output:
        ranking="results/neurons/ranking.parquet",
        layers="results/neurons/layers.parquet",
    params:
        ranking=config["ranking"],
    log:
        "logs/rank_neurons.log",
    benchmark:
        "benchmarks/rank_neurons.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/rank_neurons.py"
