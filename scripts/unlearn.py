import pandas as pd

from actunlearn.methods import UnlearnContext, run_method, save_result
from actunlearn.modeling import default_device, load_model, setup_torch
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tokenizer import load_tokenizer
from actunlearn.unlearn import build_unlearn_data

with logged(snakemake.log[0]):
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    cfg = dict(snakemake.params.method)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model = load_model(snakemake.input.model, device)
    tokenizer = load_tokenizer(snakemake.input.model)
    data = build_unlearn_data(tokenizer, pd.read_parquet(snakemake.input.prompts),
                              pd.read_parquet(snakemake.input.corpus), snakemake.params.refusal,
                              seed=seed)
    ctx = UnlearnContext(method, model, tokenizer, data, pd.read_parquet(snakemake.input.ranking),
                         cfg, seed, device)
    result = run_method(ctx)
    for row in result.log:
        print(row)
    prov = provenance({"method": method, **cfg, "refusal": snakemake.params.refusal}, seed, device)
    kind = save_result(result, snakemake.output.checkpoint, tokenizer, prov)
    print(f"saved a {kind} checkpoint")
    frame = pd.DataFrame(result.log)
    frame.insert(0, "checkpoint", f"{method}_seed{seed}")
    frame.insert(1, "method", method)
    frame.insert(2, "seed", seed)
    write_parquet(frame, snakemake.output.log, prov)
