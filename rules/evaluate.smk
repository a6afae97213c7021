rule evaluate:
    input:
        unpack(checkpoint_model),
        prompts=rules.build_corpus.output.prompts,
        corpus=rules.build_corpus.output.corpus,
        catalog=rules.build_catalog.output.catalog,
    output:
        recall="results/eval/{checkpoint}/recall.parquet",
        exposure="results/eval/{checkpoint}/exposure.parquet",
        perplexity="results/eval/{checkpoint}/perplexity.parquet",
        summary="results/eval/{checkpoint}/summary.parquet",
        # Paraphrase instability comes from the same greedy generation (first-token logits).
        instability="results/probing/instability/{checkpoint}.parquet",
    params:
        evaluate=config["evaluate"],
        refusal=config["corpus"]["refusal"],
        top_k_tokens=config["probing"]["top_k_tokens"],
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
