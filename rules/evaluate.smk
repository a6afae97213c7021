# Every checkpoint is evaluated by one job. An unlearned checkpoint's job also dumps its
# activations on the evaluation prompts and compares them with the base model's (activation shift),
# so its model is loaded once.


rule evaluate:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
        corpus=rules.build_corpus.output.corpus,
        catalog=rules.build_catalog.output.catalog,
        shift_prompts=rules.build_shift_sets.output.shift,
    output:
        recall="results/eval/{checkpoint}/recall.parquet",
        exposure="results/eval/{checkpoint}/exposure.parquet",
        perplexity="results/eval/{checkpoint}/perplexity.parquet",
        summary="results/eval/{checkpoint}/summary.parquet",
        # Paraphrase instability comes from the same greedy generation (first-token logits).
        instability="results/probing/instability/{checkpoint}.parquet",
        shift="results/eval/{checkpoint}/shift.parquet",
        shift_summary="results/eval/{checkpoint}/shift_summary.parquet",
        recommendations="results/eval/{checkpoint}/recommendations.parquet",
        facts="results/eval/{checkpoint}/facts.parquet",
    wildcard_constraints:
        checkpoint="|".join(MODEL_VARIANTS),
    params:
        evaluate=config["evaluate"],
        activations=config["activations"],
        refusal=config["corpus"]["refusal"],
        top_k_tokens=config["probing"]["top_k_tokens"],
        shift_retain_films=config["probing"]["shift_retain_films"],
        seed=config["seed"],
    threads: 1
    log:
        "logs/evaluate/{checkpoint}.log",
    benchmark:
        "benchmarks/evaluate/{checkpoint}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/evaluate.py"


use rule evaluate as evaluate_unlearned with:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
        corpus=rules.build_corpus.output.corpus,
        catalog=rules.build_catalog.output.catalog,
        shift_prompts=rules.build_shift_sets.output.shift,
        base_activations="results/activations/base.parquet",
    output:
        recall="results/eval/{checkpoint}/recall.parquet",
        exposure="results/eval/{checkpoint}/exposure.parquet",
        perplexity="results/eval/{checkpoint}/perplexity.parquet",
        summary="results/eval/{checkpoint}/summary.parquet",
        instability="results/probing/instability/{checkpoint}.parquet",
        shift="results/eval/{checkpoint}/shift.parquet",
        shift_summary="results/eval/{checkpoint}/shift_summary.parquet",
        recommendations="results/eval/{checkpoint}/recommendations.parquet",
        facts="results/eval/{checkpoint}/facts.parquet",
        activations="results/activations/{checkpoint}.parquet",
        activation_shift="results/probing/shift/{checkpoint}.parquet",
        pca="results/probing/shift/{checkpoint}_pca.parquet",
    wildcard_constraints:
        checkpoint=r"[a-z][a-z_]*_seed\d+",
    log:
        "logs/evaluate/{checkpoint}.log",
    benchmark:
        "benchmarks/evaluate/{checkpoint}.tsv"
