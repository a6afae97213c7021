# Is it really gone? One job per model audits every checkpoint in turn (attacks, probes, logit
# lens: src/actunlearn/evaluation/audit.py); the testbed's localization ground truth
# (src/actunlearn/neurons/localization.py) is its own job.


rule audit_part:
    input:
        unpack(audit_part_inputs),
        prompts=KNOWN_PROMPTS,
        all_prompts=rules.build_corpus.output.prompts,
        catalog=rules.build_catalog.output.catalog,
    output:
        **{name: f"results/{{model}}/audit/parts/{{part}}/{name}.parquet"
           for name in ("answers", "exposure", "probes", "lens")},
    wildcard_constraints:
        part=r"\d+",
    params:
        audit=settings("audit", "neighbour_films", "retain_films", "templates", "quantize",
                       "prompts", "context_facts", "exposure", "probe"),
        inference=settings("inference", "batch_size", "max_new_tokens"),
        refusal=setting("corpus", "refusal"),
        seed=setting("seed"),
        checkpoints=lambda w: audit_split(w.model)[int(w.part)],
    threads: 1
    log:
        "logs/{model}/audit/part{part}.log",
    benchmark:
        "benchmarks/{model}/audit/part{part}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/audit_part.py"


rule audit:
    input:
        unpack(audit_parts),
    output:
        **{name: f"results/{{model}}/audit/{name}.parquet"
           for name in ("answers", "exposure", "attacks", "probes", "lens", "readouts")},
    params:
        parts=lambda w: len(audit_split(w.model)),
        seed=setting("seed"),
    log:
        "logs/{model}/audit.log",
    benchmark:
        "benchmarks/{model}/audit.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/audit.py"


rule localize:
    input:
        model="results/{model}/models/base",
        prompts=KNOWN_PROMPTS,
        ranking=rules.rank_neurons.output.ranking,
    output:
        planted="results/{model}/localize/planted.parquet",
        planted_neurons="results/{model}/localize/planted_neurons.parquet",
        deletion="results/{model}/localize/deletion.parquet",
    params:
        localize=settings("localize", "films", "layers", "neurons_per_layer", "steps",
                          "learning_rate", "batch_size", "retain_prompts", "deletion_points"),
        ranking=settings("ranking", "scores", "contrast", "normalise", "combine", "weights"),
        seed=setting("seed"),
    threads: 1
    log:
        "logs/{model}/localize.log",
    benchmark:
        "benchmarks/{model}/localize.tsv"
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=0,
    conda:
        ENV
    script:
        "../scripts/localize.py"
