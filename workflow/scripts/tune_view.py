"""Tuning's view of the study: validation films as the forget set, no test film anywhere
(src/actunlearn/tuning/validation.py)."""
import pandas as pd

from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tuning.validation import check_disjoint, tuning_prompts, validation_view

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    inp, par = snakemake.input, snakemake.params
    catalog = pd.read_parquet(inp.catalog)
    known = pd.read_parquet(inp.known)
    view = validation_view(catalog, pd.read_parquet(inp.corpus), pd.read_parquet(inp.prompts), known,
                           pd.read_parquet(inp.answers))
    view["asked"] = tuning_prompts(view["known"], known, par.retain_films, dict(par.study_retain),
                                   par.seed)
    check_disjoint(catalog, {k: v for k, v in view.items() if k not in ("catalog", "reference_corpus")})
    print(view["asked"].groupby(["role", "split"]).size().to_string())
    prov = provenance({"retain_films": par.retain_films, "study_retain": dict(par.study_retain)},
                      par.seed)
    for name, frame in view.items():
        write_parquet(frame, snakemake.output[name], prov)
