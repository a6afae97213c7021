# Analyses of the original study, each a cached stage with a Parquet artifact and a report figure.


rule activation_overlap:
    input:
        activations="results/{model}/activations/base.parquet",
        prompts=KNOWN_PROMPTS,
    output:
        overlap="results/{model}/probing/activation_overlap.parquet",
        pairs="results/{model}/probing/activation_overlap_pairs.parquet",
    log:
        "logs/{model}/activation_overlap.log",
    benchmark:
        "benchmarks/{model}/activation_overlap.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/activation_overlap.py"


rule semantic_similarity:
    input:
        activations="results/{model}/activations/base.parquet",
        prompts=KNOWN_PROMPTS,
    output:
        semantic="results/{model}/probing/semantic_similarity.parquet",
    params:
        n_prompts=setting("probing", "semantic_prompts"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/semantic_similarity.log",
    benchmark:
        "benchmarks/{model}/semantic_similarity.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/semantic_similarity.py"


rule contrast_neurons:
    input:
        activations="results/{model}/activations/base.parquet",
        prompts=KNOWN_PROMPTS,
    output:
        contrast="results/{model}/neurons/contrast.parquet",
    log:
        "logs/{model}/contrast_neurons.log",
    benchmark:
        "benchmarks/{model}/contrast_neurons.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/contrast_neurons.py"


rule neuron_agreement:
    input:
        scores=rules.score_neurons.output.scores,
    output:
        agreement="results/{model}/probing/neuron_agreement.parquet",
    params:
        k=setting("probing", "agreement_top_k"),
    log:
        "logs/{model}/neuron_agreement.log",
    benchmark:
        "benchmarks/{model}/neuron_agreement.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/neuron_agreement.py"
