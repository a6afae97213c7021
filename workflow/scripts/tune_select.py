"""Pick each method's setting by the one criterion (src/actunlearn/tuning/search.py: select) and
write the tuned overlay the study reads, with the trials beside it."""
import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tuning.search import selection_outputs

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    par, out = snakemake.params, snakemake.output
    trials = pd.concat([pd.read_parquet(f) for f in snakemake.input.trials], ignore_index=True)
    selected, overlay_text = selection_outputs(trials, pd.read_parquet(snakemake.input.reference),
                                               par.margin, dict(par.follow), list(par.run),
                                               dict(par.spaces), snakemake.wildcards.model)
    print(selected.to_string())
    write_parquet(selected, out.trials, provenance({"margin": par.margin, "spaces": dict(par.spaces)}))
    selected.to_csv(out.committed, index=False)
    open(out.overlay, "w").write(overlay_text)
