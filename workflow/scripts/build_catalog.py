from actunlearn.data.catalog import build_catalog, load_omdb, omdb_path
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.catalog)
    catalog = build_catalog(load_omdb(), cfg["n_films"], cfg["forget"], cfg["neighbours_by"],
                            cfg["max_neighbours"], cfg["min_reviews"], cfg["n_unknown"],
                            cfg["forget_sample"], snakemake.params.seed, cfg["n_holdout"],
                            cfg["validation"], cfg["validation_neighbours"],
                            cfg["skill_films"])
    print(catalog.role.value_counts().to_string())
    prov = provenance({"catalog": cfg, "source": omdb_path().name})
    write_parquet(catalog, snakemake.output.catalog, prov)
