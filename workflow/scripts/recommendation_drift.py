import pandas as pd

from actunlearn.evaluation.recommendation_drift import drift_pairs, drift_summary, pair_intervals
from actunlearn.models.embeddings import unit_embeddings
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg = dict(snakemake.params.drift)
    recs = pd.concat([pd.read_parquet(p) for p in snakemake.input.recommendations],
                     ignore_index=True)
    recs["family"] = recs.title  # a family: every template of one film's recommendation request
    pairs = drift_pairs(recs, unit_embeddings, k=cfg["jaccard_k"], p=cfg["rbo_p"], base="base")
    summary = drift_summary(pairs)
    intervals = pair_intervals(pairs)
    print(summary[summary.metric.isin(["kendall_tau", "rbo"])]
          .pivot_table(index=["checkpoint", "family_kind"], columns=["comparison", "metric"],
                       values="value").round(3).to_string())
    prov = provenance({"drift": cfg})
    write_parquet(pairs, snakemake.output.pairs, prov)
    write_parquet(summary, snakemake.output.summary, prov)
    write_parquet(intervals, snakemake.output.intervals, prov)
