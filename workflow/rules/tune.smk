# Tuning (docs/tuning.md): `snakemake --cores N tune`. Every method gets the same search (one job
# per method x setting x tuning seed) on the validation films, the catalog's val_forget films and
# their neighbours, in a view of the study without any test film (tuning/validation.py); one
# criterion (tuning/search.py) picks each method's setting; the chosen settings go to
# tuning.overlay (config/tuned/{model}.yaml, committed), which the study reads. The study never
# runs these rules. Tuning reads each model's settings without the overlay (UNTUNED_CONFIG).
rule tune:
    input:
        [TUNED_PATH[m] for m in TUNED_MODELS],


rule tune_view:
    input:
        catalog=rules.build_catalog.output.catalog,
        corpus=rules.build_corpus.output.corpus,
        prompts=rules.build_corpus.output.prompts,
        known=KNOWN_PROMPTS,
        answers=rules.check_knowledge.output.answers,
    output:
        **VIEW,
    params:
        retain_films=untuned("tuning", "retain_films"),
        study_retain=lambda w: {"retain_films": UNTUNED_CONFIG[w.model]["evaluate"]["retain_films"],
                                "shift_retain_films":
                                    UNTUNED_CONFIG[w.model]["evaluate"]["shift"]["retain_films"]},
        seed=untuned("seed"),
    log:
        "logs/{model}/tune/view.log",
    benchmark:
        "benchmarks/{model}/tune/view.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/tune_view.py"


rule tune_ranking:
    input:
        model="results/{model}/models/base",
        known=VIEW["known"],
    output:
        ranking=f"{TUNE}/ranking.parquet",
    params:
        neurons=untuned_settings("neurons", "retain_prompts", "batch_size"),
        ranking=untuned_settings("ranking", "scores", "contrast", "normalise", "combine", "weights",
                                 "layers.select", "layers.top", "layers.explicit", "layers.by"),
        seed=untuned("seed"),
    threads: 1
    log:
        "logs/{model}/tune/ranking.log",
    benchmark:
        "benchmarks/{model}/tune/ranking.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/tune_ranking.py"


# The validation retain reference: the testbed trained without any line that mentions a
# validation film (the criterion's reference; a model without one is held to recall 0).
rule tune_reference_model:
    input:
        corpus=VIEW["reference_corpus"],
        prompts=VIEW["prompts"],
        tokenizer=rules.build_tokenizer.output.tokenizer,
    output:
        model=directory(f"{TUNE}/retain_ref"),
    wildcard_constraints:
        model=_alternation(TESTBED_MODELS),
    params:
        testbed=untuned_settings("testbed", "hidden_size", "intermediate_size", "num_layers",
                                 "num_heads", "epochs", "batch_size", "learning_rate",
                                 "warmup_steps"),
        seed=untuned("seed"),
    threads: 1
    log:
        "logs/{model}/tune/retain_ref.log",
    benchmark:
        "benchmarks/{model}/tune/retain_ref.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/tune_reference_model.py"


rule tune_reference:
    input:
        base="results/{model}/models/base",
        retain_ref=lambda w: f"results/{w.model}/tune/retain_ref" if has_reference(w.model) else [],
        **{k: VIEW[k] for k in ("catalog", "asked")},
    output:
        reference=f"{TUNE}/reference.parquet",
    params:
        refusal=untuned("corpus", "refusal"),
        inference=untuned_settings("inference", "batch_size", "max_new_tokens"),
    threads: 1
    log:
        "logs/{model}/tune/reference.log",
    benchmark:
        "benchmarks/{model}/tune/reference.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/tune_reference.py"


rule tune_trial:
    input:
        model="results/{model}/models/base",
        ranking=lambda w: f"results/{w.model}/tune/ranking.parquet" if tuning_reads_ranking(w) else [],
        **{k: VIEW[k] for k in ("catalog", "corpus", "prompts", "known", "answers", "asked")},
    output:
        trial=f"{TUNE}/trials/{{method}}/{{setting}}_seed{{seed}}.parquet",
        manifest=f"{TUNE}/trials/{{method}}/{{setting}}_seed{{seed}}_manifest.parquet",
    wildcard_constraints:
        setting=r"\d+",
    params:
        settings=trial_settings,
        values=lambda w: trial_grid(w.model, w.method)[int(w.setting)],
        own_answers=lambda w: UNTUNED_CONFIG[w.model]["unlearn"]["retain_data"] == "own_answers",
        refusal=untuned("corpus", "refusal"),
        inference=untuned_settings("inference", "batch_size", "max_new_tokens"),
    threads: 1
    log:
        "logs/{model}/tune/trials/{method}/{setting}_seed{seed}.log",
    benchmark:
        "benchmarks/{model}/tune/trials/{method}/{setting}_seed{seed}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/tune_trial.py"


rule tune_select:
    input:
        trials=tuning_trials,
        reference=rules.tune_reference.output.reference,
    output:
        trials=f"{TUNE}/trials.parquet",
        overlay=TUNED_PATTERN,
        committed=TUNED_TRIALS_PATTERN,
    params:
        margin=untuned("tuning", "margin"),
        follow=lambda w: dict(UNTUNED_CONFIG[w.model]["tuning"]["follow"]),
        run=untuned("unlearn", "run"),
        # the searched methods' spaces (copies: a rule passes values, never a config section)
        spaces=lambda w: {m: pick(UNTUNED_CONFIG[w.model]["tuning"]["spaces"][m],
                                  list(UNTUNED_CONFIG[w.model]["tuning"]["spaces"][m]))
                          for m in tuned_methods(UNTUNED_CONFIG[w.model]["tuning"],
                                                 UNTUNED_CONFIG[w.model]["unlearn"]["run"])},
    log:
        "logs/{model}/tune/select.log",
    conda:
        ENV
    script:
        "../scripts/tune_select.py"


# The study's record of its tuning (the committed trials beside the overlay; its content hash is
# a param, so a new sweep reruns this rule and the tables): never an input of the tune rules.
rule tuning_record:
    output:
        trials="results/{model}/tuned/trials.parquet",
    params:
        trials=lambda w: TUNED_TRIALS_PATTERN.format(model=w.model),
        enabled=untuned("tuning", "enabled"),
        sha256=lambda w: file_sha256(TUNED_TRIALS_PATTERN.format(model=w.model)),
    log:
        "logs/{model}/tuning_record.log",
    conda:
        ENV
    script:
        "../scripts/tuning_record.py"
