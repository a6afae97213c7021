"""The facts the base model knows; later rules ask only those (src/actunlearn/evaluation/knowledge.py)."""
import pandas as pd

from actunlearn.evaluation.knowledge import check_knowledge, knowledge_summary
from actunlearn.models.loading import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, ev, seed = snakemake.params.knowledge, snakemake.params.inference, snakemake.params.seed
    model, tokenizer, device = open_checkpoint(snakemake.input.model, None, snakemake.threads, seed)
    prompts = pd.read_parquet(snakemake.input.prompts)
    answers, facts, known = check_knowledge(model, tokenizer, prompts, snakemake.params.refusal, cfg,
                                            ev["batch_size"], ev["max_new_tokens"], seed, device,
                                            titles=sorted(set(prompts.title)))
    print(knowledge_summary(facts).to_string(index=False))
    print(f"{len(known)} of {len(prompts)} prompts kept")
    print(answers[answers.role == "forget"][["question", "response", "correct"]].to_string(index=False))
    prov = provenance({"knowledge": cfg, "max_new_tokens": ev["max_new_tokens"],
                       "model": snakemake.wildcards.model}, seed, device)
    write_parquet(facts, snakemake.output.facts, prov)
    write_parquet(answers[["prompt_id", "title", "intent", "role", "template_id", "split",
                           "question", "response", "correct"]], snakemake.output.answers, prov)
    write_parquet(known, snakemake.output.prompts, prov)
