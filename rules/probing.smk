# Analyses of the original study, each a cached stage with a Parquet artifact and a report figure.


rule activation_overlap:
    input:
        activations="results/activations/base.parquet",
        prompts=rules.build_corpus.output.prompts,
    output:
        overlap="results/probing/activation_overlap.parquet",
        pairs="results/probing/activation_overlap_pairs.parquet",
    log:
        "logs/activation_overlap.log",
    benchmark:
        "benchmarks/activation_overlap.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/activation_overlap.py"


rule semantic_similarity:
    input:
        activations="results/activations/base.parquet",
        prompts=rules.build_corpus.output.prompts,
    output:
        semantic="results/probing/semantic_similarity.parquet",
    params:
        n_prompts=config["probing"]["semantic_prompts"],
        seed=config["seed"],
    threads: 1
    log:
        "logs/semantic_similarity.log",
    benchmark:
        "benchmarks/semantic_similarity.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/semantic_similarity.py"


rule contrast_neurons:
    input:
        activations="results/activations/base.parquet",
        prompts=rules.build_corpus.output.prompts,
    output:
        contrast="results/neurons/contrast.parquet",
    log:
        "logs/contrast_neurons.log",
    benchmark:
        "benchmarks/contrast_neurons.tsv"
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
        agreement="results/probing/neuron_agreement.parquet",
    params:
        k=config["probing"]["agreement_top_k"],
    log:
        "logs/neuron_agreement.log",
    benchmark:
        "benchmarks/neuron_agreement.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/neuron_agreement.py"
