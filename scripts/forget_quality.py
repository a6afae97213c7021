import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.quality import quality_summary
from actunlearn.recdrift import seed_intervals
from actunlearn.runlog import logged

METRICS = ["mia_auc_loss", "mia_auc_min_k", "truth_ratio_forget", "ks_statistic", "forget_quality_p"]

with logged(snakemake.log[0]):
    samples = pd.concat([pd.read_parquet(p) for p in snakemake.input.facts], ignore_index=True)
    summary = quality_summary(samples, reference="retain_ref")
    print(summary.to_string())
    long = summary.melt(id_vars="checkpoint", value_vars=METRICS, var_name="metric")
    intervals = seed_intervals(long, by=("metric",))
    prov = provenance({"reference": "retain_ref"})
    write_parquet(summary, snakemake.output.summary, prov)
    write_parquet(intervals, snakemake.output.intervals, prov)
