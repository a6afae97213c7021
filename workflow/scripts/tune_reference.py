"""The base model and the validation retain reference on the validation prompts: the criterion's
reference (src/actunlearn/tuning/trial.py: score)."""
import pandas as pd

from actunlearn.models.loading import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tuning.trial import score

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    view = {"catalog": pd.read_parquet(inp.catalog), "asked": pd.read_parquet(inp.asked)}
    rows = []
    for name in ("base", "retain_ref"):
        if inp.get(name):
            model, tokenizer, device = open_checkpoint(inp[name], None, snakemake.threads, 0)
            rows.append({"checkpoint": name, **score(model, tokenizer, view, par.refusal,
                                                     dict(par.inference), device)})
    frame = pd.DataFrame(rows)
    print(frame.to_string())
    write_parquet(frame, snakemake.output.reference, provenance({"inference": dict(par.inference)}))
