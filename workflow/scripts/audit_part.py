"""Is it really gone? One part of a model's checkpoints under the attacks, probes and logit lens
of the audit (src/actunlearn/evaluation/audit.py); rule audit merges the parts."""
import pandas as pd

from actunlearn.evaluation.audit import PART_TABLES, audit_items, audit_model, checkpoint_loaders
from actunlearn.models.loading import default_device, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    setup_torch(snakemake.threads, par.seed)
    device = default_device()
    catalog = pd.read_parquet(inp.catalog)
    items = audit_items(pd.read_parquet(inp.prompts), pd.read_parquet(inp.all_prompts), catalog,
                        par.audit, par.seed)
    names = ["base"] + [c for c in par.checkpoints if c != "base"]
    tables = audit_model(checkpoint_loaders(inp, names, device), load_tokenizer(inp.base), items,
                         par.audit, catalog, par.refusal, par.inference["batch_size"],
                         par.inference["max_new_tokens"], par.seed, device,
                         base_only_probes="base" not in par.checkpoints)
    prov = provenance({"audit": par.audit, "inference": par.inference,
                       "checkpoints": par.checkpoints}, par.seed, device)
    for name in PART_TABLES:
        write_parquet(tables[name], snakemake.output[name], prov)
