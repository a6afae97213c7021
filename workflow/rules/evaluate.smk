# The settings every evaluation job reads; an unlearned checkpoint's also dumps its activations.
EVALUATE_PARAMS = dict(
    evaluate=settings("evaluate", "retain_films", "unknown_films", "perplexity_lines",
                      "wrong_answers", "shift.sets", "shift.retain_films", "shift.max_new_tokens",
                      "drift.control_films",
                      "drift.adjacent_films", "drift.kinds", "drift.candidates", "drift.top_k"),
    inference=settings("inference", "batch_size", "max_new_tokens"),
    refusal=setting("corpus", "refusal"),
    top_k_tokens=setting("probing", "top_k_tokens"),
    seed=setting("seed"),
    quality=lambda w: has_reference(w.model),
)


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
        **EVALUATE_PARAMS,
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
    params:
        **EVALUATE_PARAMS,
        dtype=setting("activations", "dtype"),
        shift_retain_films=setting("probing", "shift_retain_films"),
    log:
        "logs/{model}/evaluate/{checkpoint}.log",
    benchmark:
        "benchmarks/{model}/evaluate/{checkpoint}.tsv"
