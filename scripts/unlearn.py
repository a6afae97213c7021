import json
from pathlib import Path

import pandas as pd

from actunlearn.masked_lora import attach_masked_lora, unmasked_columns_zero
from actunlearn.modeling import default_device, load_model, setup_torch
from actunlearn.provenance import provenance, write_parquet
from actunlearn.ranking import top_neurons
from actunlearn.runlog import logged
from actunlearn.tokenizer import load_tokenizer
from actunlearn.unlearn import build_unlearn_data, train_unlearning

with logged(snakemake.log[0]):
    method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
    cfg = dict(snakemake.params.method)
    setup_torch(snakemake.threads, seed)
    device = default_device()
    if method != "masked_lora":
        raise ValueError(f"unlearn: unknown method {method!r}")
    model = load_model(snakemake.input.model, device)
    tokenizer = load_tokenizer(snakemake.input.model)
    data = build_unlearn_data(tokenizer, pd.read_parquet(snakemake.input.prompts),
                              pd.read_parquet(snakemake.input.corpus), snakemake.params.refusal,
                              seed=seed)
    ranking = pd.read_parquet(snakemake.input.ranking)
    if cfg["layers"] == "all":
        layers = list(range(model.config.num_hidden_layers))
    elif cfg["layers"] == "ranked":
        layers = sorted(set(ranking.layer[ranking.selected_layer]))
    else:
        layers = cfg["layers"]
    masks = top_neurons(ranking, layers, cfg["top_k"])
    peft_model = attach_masked_lora(model, masks, cfg["rank"], cfg["alpha"], seed)
    log = train_unlearning(
        peft_model, data, tokenizer.pad_token_id, method=method, steps=cfg["steps"],
        learning_rate=cfg["learning_rate"], forget_batch=cfg["forget_batch"],
        retain_batch=cfg["retain_batch"], unlikelihood_weight=cfg["unlikelihood_weight"],
        retain_weight=cfg["retain_weight"], neighbour_share=cfg["neighbour_share"], seed=seed,
        device=device)
    if not unmasked_columns_zero(peft_model, masks):
        raise AssertionError("masked LoRA: a column outside the mask became non-zero")
    for row in log:
        print(row)
    prov = provenance({"method": method, **cfg, "refusal": snakemake.params.refusal}, seed, device)
    out = Path(snakemake.output.adapter)
    peft_model.save_pretrained(out)
    (out / "neuron_mask.json").write_text(json.dumps({str(k): v for k, v in masks.items()}))
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
    frame = pd.DataFrame(log)
    frame.insert(0, "checkpoint", f"{method}_seed{seed}")
    frame.insert(1, "method", method)
    frame.insert(2, "seed", seed)
    write_parquet(frame, snakemake.output.log, prov)
