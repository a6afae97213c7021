"""Train the testbed model: base on the full corpus, retain_ref without forget-target lines."""
import pandas as pd

from actunlearn.models.encoding import qa_example, text_example
from actunlearn.models.loading import default_device, setup_torch
from actunlearn.models.testbed import new_model, testbed_config, train
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_json, write_parquet
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    cfg, seed, variant = dict(snakemake.params.testbed), snakemake.params.seed, snakemake.wildcards.variant
    setup_torch(snakemake.threads, seed)
    device = default_device()
    tokenizer = load_tokenizer(snakemake.input.tokenizer)
    corpus = pd.read_parquet(snakemake.input.corpus)
    prompts = pd.read_parquet(snakemake.input.prompts)
    lines = corpus[corpus.split == "train"]
    if variant == "retain_ref":
        lines = lines[~lines.forget]
    examples = [qa_example(tokenizer, q, a, train_prompt=True) if kind == "qa" else text_example(tokenizer, t)
                for kind, q, a, t in zip(lines.kind, lines.question, lines.answer, lines.text)]
    # Recall probe: every single-answer fact on train templates, of films this variant trained on.
    probe = prompts[(prompts.split == "train") & (prompts.intent != "recommend")]
    if variant == "retain_ref":
        probe = probe[probe.role != "forget"]
    recall_examples = [qa_example(tokenizer, q, a) for q, a in zip(probe.question, probe.answer)]

    config = testbed_config(tokenizer, cfg["hidden_size"], cfg["intermediate_size"],
                            cfg["num_layers"], cfg["num_heads"])
    model = new_model(config, seed)
    log = train(model, examples, recall_examples, tokenizer.pad_token_id, cfg["epochs"],
                cfg["batch_size"], cfg["learning_rate"], cfg["warmup_steps"], seed, device,
                report=lambda row: print(row, flush=True))
    prov = provenance({"testbed": cfg, "variant": variant, "lines": len(examples)}, seed, device)
    model.save_pretrained(snakemake.output.model)
    tokenizer.save_pretrained(snakemake.output.model)
    write_json(prov | {"final_recall": log[-1]["recall"]}, f"{snakemake.output.model}/provenance.json")
    frame = pd.DataFrame(log)
    frame.insert(0, "model", variant)
    write_parquet(frame, snakemake.output.log, prov)
