"""The study's record of its tuning: the committed trials behind config/tuned/{model}.yaml
(src/actunlearn/tuning/search.py: committed_trials)."""
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tuning.search import committed_trials

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    trials = committed_trials(snakemake.params.trials, snakemake.params.enabled,
                              snakemake.wildcards.model)
    print(trials.to_string())
    write_parquet(trials, snakemake.output.trials,
                  provenance({"trials": snakemake.params.trials, "sha256": snakemake.params.sha256}))
