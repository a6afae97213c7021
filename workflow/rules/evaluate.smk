# Every checkpoint is evaluated by one job. An unlearned checkpoint's job also dumps its
# activations on the evaluation prompts and compares them with the base model's (activation shift),
# so its model is loaded once.


rule evaluate:
    input:
        unpack(checkpoint_model),
        prompts=KNOWN_PROMPTS,
        all_prompts=rules.build_corpus.output.prompts,
        corpus=rules.build_corpus.output.corpus,
        catalog=rules.build_catalog.output.catalog,
        shift_prompts=rules.build_shift_sets.output.shift,
    output:
        recall="results/{model}/eval/{checkpoint}/recall.parquet",
        exposure="results/{model}/eval/{checkpoint}/exposure.parquet",
        perplexity="results/{model}/eval/{checkpoint}/perplexity.parquet",
        summary="results/{model}/eval/{checkpoint}/summary.parquet",
        # Paraphrase instability comes from the same greedy generation (first-token logits).
        instability="results/{model}/probing/instability/{checkpoint}.parquet",
        shift="results/{model}/eval/{checkpoint}/shift.parquet",
        shift_summary="results/{model}/eval/{checkpoint}/shift_summary.parquet",
        recommendations="results/{model}/eval/{checkpoint}/recommendations.parquet",
        facts="results/{model}/eval/{checkpoint}/facts.parquet",
    wildcard_constraints:
        checkpoint="base|retain_ref",
    params:
        evaluate=mc("evaluate"),
        activations=mc("activations"),
        refusal=mc("corpus", "refusal"),
        top_k_tokens=mc("probing", "top_k_tokens"),
        shift_retain_films=mc("probing", "shift_retain_films"),
        seed=mc("seed"),
        quality=lambda w: has_reference(w.model),
    threads: 1
    log:
        "logs/{model}/evaluate/{checkpoint}.log",
    benchmark:
        "benchmarks/{model}/evaluate/{checkpoint}.tsv"
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
        prompts=KNOWN_PROMPTS,
        all_prompts=rules.build_corpus.output.prompts,
        corpus=rules.build_corpus.output.corpus,
        catalog=rules.build_catalog.output.catalog,
        shift_prompts=rules.build_shift_sets.output.shift,
        base_activations="results/{model}/activations/base.parquet",
    output:
        recall="results/{model}/eval/{checkpoint}/recall.parquet",
        exposure="results/{model}/eval/{checkpoint}/exposure.parquet",
        perplexity="results/{model}/eval/{checkpoint}/perplexity.parquet",
        summary="results/{model}/eval/{checkpoint}/summary.parquet",
        instability="results/{model}/probing/instability/{checkpoint}.parquet",
        shift="results/{model}/eval/{checkpoint}/shift.parquet",
        shift_summary="results/{model}/eval/{checkpoint}/shift_summary.parquet",
        recommendations="results/{model}/eval/{checkpoint}/recommendations.parquet",
        facts="results/{model}/eval/{checkpoint}/facts.parquet",
        activations="results/{model}/activations/{checkpoint}.parquet",
        activation_shift="results/{model}/probing/shift/{checkpoint}.parquet",
        pca="results/{model}/probing/shift/{checkpoint}_pca.parquet",
    wildcard_constraints:
        checkpoint=r"[a-z][a-z_]*_seed\d+",
    log:
        "logs/{model}/evaluate/{checkpoint}.log",
    benchmark:
        "benchmarks/{model}/evaluate/{checkpoint}.tsv"
