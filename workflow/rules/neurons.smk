rule score_neurons:
    input:
        model="results/{model}/models/base",
        prompts=KNOWN_PROMPTS,
    output:
        scores="results/{model}/neurons/scores.parquet",
        gradient_norms="results/{model}/neurons/gradient_norms.parquet",
    params:
        neurons=settings("neurons", "retain_prompts", "batch_size"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/score_neurons.log",
    benchmark:
        "benchmarks/{model}/score_neurons.tsv"
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
        # only when a ranking score is the contrast: a new activation dump reruns no other ranking
        contrast=lambda w: (f"results/{w.model}/neurons/contrast.parquet"
                            if "contrast" in MODEL_CONFIG[w.model]["ranking"]["scores"] else []),
    output:
        ranking="results/{model}/neurons/ranking.parquet",
        layers="results/{model}/neurons/layers.parquet",
    params:
        ranking=settings("ranking", "scores", "contrast", "normalise", "combine", "weights",
                         "layers.select", "layers.top", "layers.explicit", "layers.by"),
    log:
        "logs/{model}/rank_neurons.log",
    benchmark:
        "benchmarks/{model}/rank_neurons.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/rank_neurons.py"
