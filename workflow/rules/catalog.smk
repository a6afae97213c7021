rule build_catalog:
    output:
        catalog="results/catalog/catalog.parquet",
    params:
        catalog=pick(config["catalog"], ["n_films", "forget", "forget_sample", "neighbours_by",
                                         "max_neighbours", "min_reviews", "n_unknown", "n_holdout",
                                         "validation", "validation_neighbours", "skill_films"],
                     "catalog"),
        seed=config["seed"],
    log:
        "logs/build_catalog.log",
    benchmark:
        "benchmarks/build_catalog.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/build_catalog.py"
