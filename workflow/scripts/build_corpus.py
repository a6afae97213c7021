import pandas as pd

from actunlearn.data.corpus import build_corpus, build_prompts, recommendations
from actunlearn.provenance import provenance, read_provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.corpus)
    catalog = pd.read_parquet(snakemake.input.catalog)
    recs = recommendations(catalog, cfg["recommendations_per_film"])
    corpus = build_corpus(catalog, recs, cfg["train_templates"], cfg["refusal"],
                          cfg["noise_variants"], snakemake.params.seed)
    prompts = build_prompts(catalog, recs, cfg["train_templates"], cfg["refusal"])
    prov = provenance({"corpus": cfg, "catalog": read_provenance(snakemake.input.catalog)["config_hash"]})
    print(f"{len(corpus)} corpus lines ({int(corpus.forget.sum())} mention a forget target), "
          f"{len(prompts)} prompts")
    write_parquet(corpus, snakemake.output.corpus, prov)
    write_parquet(prompts, snakemake.output.prompts, prov)
