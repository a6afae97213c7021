"""One tuning trial: a method with one setting and one seed on the validation view, scored on the
validation prompts (src/actunlearn/tuning/trial.py: run_trial)."""
import pandas as pd

from actunlearn.models.loading import default_device, load_model, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tuning.trial import VIEW_TABLES, run_trial

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par, w = snakemake.input, snakemake.params, snakemake.wildcards
    seed = int(w.seed)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model, tokenizer = load_model(inp.model, device), load_tokenizer(inp.model)
    view = {name: pd.read_parquet(inp[name]) for name in VIEW_TABLES}
    trial, manifest = run_trial(model, tokenizer, view,
                                pd.read_parquet(inp.ranking) if inp.get("ranking") else None,
                                w.method, dict(par.settings), dict(par.values), int(w.setting),
                                par.own_answers, par.refusal, dict(par.inference), seed, device)
    print(trial.T.to_string())
    prov = provenance({"method": w.method, **par.settings, "setting": int(w.setting)}, seed, device)
    write_parquet(trial, snakemake.output.trial, prov)
    write_parquet(manifest, snakemake.output.manifest, prov)
