import pandas as pd

from actunlearn.evaluation.recommendation_drift import drift_of_logs
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.drift)
    titles = pd.read_parquet(snakemake.input.catalog).title.tolist()
    frames = drift_of_logs(snakemake.input.logs, titles, cfg["jaccard_k"], cfg["rbo_p"],
                           snakemake.params.base)
    print(frames[2].to_string())
    prov = provenance({"logs": snakemake.input.logs, "drift": cfg, "base": snakemake.params.base})
    for name, frame in zip(("recommendations", "pairs", "summary", "intervals"), frames):
        write_parquet(frame, snakemake.output[name], prov)
