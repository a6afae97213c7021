"""Evaluate every step of a sequential run (src/actunlearn/evaluation/sequence.py)."""
import pandas as pd

from actunlearn.config import checkpoint_name
from actunlearn.evaluation.sequence import evaluate_sequence
from actunlearn.models.loading import default_device, setup_torch
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.unlearning.sequential import keyed

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par, wc = snakemake.input, snakemake.params, snakemake.wildcards
    seq, ev = par.sequential, par.inference
    setup_torch(snakemake.threads, 0)
    device = default_device()
    titles = pd.read_parquet(inp.catalog).title.tolist()  # for the entity matcher
    recall, summary = evaluate_sequence(inp.model, inp.checkpoints, load_tokenizer(inp.model),
                                        pd.read_parquet(inp.prompts), titles, list(seq["targets"]),
                                        seq["retain_films"], par.refusal, ev["batch_size"],
                                        ev["max_new_tokens"], par.seed, device)
    print(summary[summary.split == "held_out"].to_string())
    prov = provenance({"sequential": seq, "inference": ev}, par.seed, device)
    for frame, path in ((recall, snakemake.output.recall), (summary, snakemake.output.summary)):
        write_parquet(keyed(frame, checkpoint_name(wc.method, wc.seed), wc.method, int(wc.seed)),
                      path, prov)
