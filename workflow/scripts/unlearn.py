import pandas as pd

from actunlearn.methods import UnlearnContext, run_method, save_result
from actunlearn.modeling import default_device, load_model, setup_torch
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged
from actunlearn.tokenizer import load_tokenizer
from actunlearn.unlearn import build_unlearn_data

with logged(snakemake.log[0]):
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    checkpoint = f"{method}_seed{seed}"
    cfg = dict(snakemake.params.method)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    model = load_model(snakemake.input.model, device)
    tokenizer = load_tokenizer(snakemake.input.model)
    own = (pd.read_parquet(snakemake.input.answers) if snakemake.params.retain_data == "own_answers"
           else None)
    catalog = pd.read_parquet(snakemake.input.catalog)
    data = build_unlearn_data(tokenizer, pd.read_parquet(snakemake.input.prompts),
                              pd.read_parquet(snakemake.input.corpus), snakemake.params.refusal,
                              seed=seed, own_answers=own,
                              recommendations=pd.read_parquet(snakemake.input.all_prompts),
                              titles=catalog.title.tolist(),
                              max_new_tokens=snakemake.params.max_new_tokens, device=device)
    ctx = UnlearnContext(method, model, tokenizer, data, pd.read_parquet(snakemake.input.ranking),
                         cfg, seed, device)
    result = run_method(ctx)
    for row in result.log:
        print(row)
    prov = provenance({"method": method, **cfg, "refusal": snakemake.params.refusal,
                       "retain_data": snakemake.params.retain_data,
                       "max_new_tokens": snakemake.params.max_new_tokens}, seed, device)
    kind = save_result(result, snakemake.output.checkpoint, tokenizer, prov)
    print(f"saved a {kind} checkpoint")
    frame = pd.DataFrame(result.log)
    frame.insert(0, "checkpoint", checkpoint)
    frame.insert(1, "method", method)
    frame.insert(2, "seed", seed)
    write_parquet(frame, snakemake.output.log, prov)
    write_parquet(data.manifest.assign(checkpoint=checkpoint), snakemake.output.manifest, prov)
