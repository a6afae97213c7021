import pandas as pd

from actunlearn.activations import dump_activations
from actunlearn.catalog import KNOWN_ROLES
from actunlearn.corpus import evaluation_prompts
from actunlearn.drift import extract_titles
from actunlearn.evaluate import (answer_families, answer_prompts, candidate_titles, perplexity_samples,
                                 rank_recommendations, recommendation_prompts, shift_summary,
                                 summarise)
from actunlearn.modeling import open_checkpoint
from actunlearn.probing import shift_tables
from actunlearn.provenance import provenance, write_parquet
from actunlearn.quality import FACT_QUESTION_COLUMNS, fact_questions, fact_samples
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    checkpoint, cfg = snakemake.wildcards.checkpoint, dict(snakemake.params.evaluate)
    top_k, seed = snakemake.params.top_k_tokens, snakemake.params.seed
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads, seed=0)
    prompts = pd.read_parquet(snakemake.input.prompts)
    corpus = pd.read_parquet(snakemake.input.corpus)
    catalog = pd.read_parquet(snakemake.input.catalog)
    titles = catalog.title[catalog.role.isin(KNOWN_ROLES)].tolist()

    asked = evaluation_prompts(prompts, cfg["retain_films"], cfg["unknown_films"], seed)
    every_title = catalog.title.tolist()  # the entity matcher's titles: a longer one always wins
    recall, instability = answer_families(model, tokenizer, asked, snakemake.params.refusal,
                                          cfg["batch_size"], cfg["max_new_tokens"], top_k, device,
                                          titles=every_title)
    # Ranked recommendation lists (every catalog title scored) for the drift families; exposure
    # of the forget targets comes from the same scores (every prompt of another film whose gold
    # list holds a target).
    # Recommendation requests are asked of every model whatever it knows (knowledge check):
    # exposure and drift concern what it ranks, not recall of our catalog's gold lists.
    drift_cfg = cfg["drift"]
    all_prompts = pd.read_parquet(snakemake.input.all_prompts)
    recs = recommendation_prompts(all_prompts, drift_cfg["control_films"], seed,
                                  drift_cfg["adjacent_films"], tuple(drift_cfg["kinds"]))
    targets = set(prompts.title[prompts.role == "forget"])
    # ranked: the candidates; titles are still found in the free-text answers among all of them
    candidates = candidate_titles(titles, targets, drift_cfg["candidates"], seed)
    lists, exposure = rank_recommendations(model, tokenizer, recs, candidates, targets,
                                           drift_cfg["top_k"], cfg["batch_size"], device)
    said = answer_prompts(model, tokenizer, recs, snakemake.params.refusal, cfg["batch_size"],
                          cfg["max_new_tokens"], device, titles=every_title)
    ranked = lists.groupby("prompt_id").candidate.apply(list)
    recommendations = said[["prompt_id", "title", "template_id", "split", "family_kind",
                            "response"]].copy()
    recommendations["ranked"] = [ranked[pid] for pid in recommendations.prompt_id]
    recommendations["extracted"] = [extract_titles(r, titles) for r in recommendations.response]
    perplexity = perplexity_samples(model, tokenizer, corpus, cfg["batch_size"], device,
                                    cfg["perplexity_lines"], seed)
    summary = summarise(recall, exposure, perplexity)
    print(f"{len(asked)} of {len(prompts)} prompts evaluated")
    print(summary.to_string())
    # distribution-shift sets: forget and neighbour films, and a seeded sample of retain films
    shift_cfg = cfg["shift"]
    films = set(evaluation_prompts(prompts, shift_cfg["retain_films"], 0, seed,
                                   ("evaluate.shift.retain_films", "-")).title)
    # only facts the model knows (knowledge check): a shift set asks whether they survive it
    shift_prompts = pd.read_parquet(snakemake.input.shift_prompts).merge(
        prompts[["title", "intent"]].drop_duplicates(), on=["title", "intent"])
    shift_prompts = shift_prompts[shift_prompts.shift_set.isin(shift_cfg["sets"])]
    shift = answer_prompts(model, tokenizer, shift_prompts[shift_prompts.title.isin(films)],
                           snakemake.params.refusal, cfg["batch_size"], cfg["max_new_tokens"], device,
                           titles=every_title)
    shifted = shift_summary(shift, recall[recall.title.isin(films)])
    print(shifted[shifted.metric == "recall"].pivot(index="shift_set", columns="role",
                                                     values="value").to_string())
    # membership inference and forget quality: per-fact statistics (src/actunlearn/quality.py)
    # members: the forget facts; non-members: the holdout films' facts, which no model ever saw.
    # Only forget quality reads them, and it needs a retain reference (a testbed's)
    holdout = all_prompts[all_prompts.role == "holdout"]
    questions = (fact_questions(pd.concat([asked, holdout], ignore_index=True), catalog,
                                cfg["wrong_answers"], seed) if snakemake.params.quality
                 else pd.DataFrame(columns=FACT_QUESTION_COLUMNS))
    facts = fact_samples(model, tokenizer, questions, cfg["batch_size"], device)
    prov = provenance({"evaluate": cfg, "checkpoint": checkpoint, "top_k_tokens": top_k}, seed, device)
    for name, frame in (("recall", recall), ("exposure", exposure), ("perplexity", perplexity),
                        ("summary", summary), ("instability", instability), ("shift", shift),
                        ("shift_summary", shifted), ("recommendations", recommendations),
                        ("facts", facts)):
        frame.insert(0, "checkpoint", checkpoint)
        write_parquet(frame, snakemake.output[name], prov)

    if "activations" in snakemake.output.keys():
        # unlearned checkpoint: its activations on the evaluation prompts, and their shift from
        # the base model's
        acts = dict(snakemake.params.activations)
        dump_prov = provenance({"activations": acts, "checkpoint": checkpoint, "prompts": "shift",
                                "shift_retain_films": snakemake.params.shift_retain_films},
                               seed, device)
        dumped = evaluation_prompts(prompts, snakemake.params.shift_retain_films, 0, seed,
                                    ("probing.shift_retain_films", "-"))
        dump_activations(model, tokenizer, dumped, snakemake.output.activations, acts["dtype"],
                         dump_prov, cfg["batch_size"], device)
        moved, pca, layer = shift_tables(snakemake.input.base_activations,
                                         snakemake.output.activations, dumped)
        moved.insert(0, "checkpoint", checkpoint)
        pca.insert(0, "checkpoint", checkpoint)
        pca.insert(1, "layer", layer)
        print(moved[moved.representation == "resid_last"].to_string())
        shift_prov = provenance({"checkpoint": checkpoint, "pca_layer": layer, "evaluate": cfg}, seed)
        write_parquet(moved, snakemake.output.activation_shift, shift_prov)
        write_parquet(pca, snakemake.output.pca, shift_prov)
