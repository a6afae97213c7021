"""The evaluation job of one checkpoint: every table the `evaluate` rule writes, from the model
and the study's prompt tables (the rule's script only reads and writes files)."""

from __future__ import annotations

import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES
from actunlearn.data.corpus import evaluation_prompts
from actunlearn.evaluation.answers import (
    answer_families,
    answer_prompts,
    candidate_titles,
    perplexity_samples,
    rank_recommendations,
    recommendation_prompts,
    shift_answers,
    shift_summary,
    summarise,
)
from actunlearn.evaluation.forget_quality import FACT_QUESTION_COLUMNS, fact_questions, fact_samples
from actunlearn.metrics.matching import extract_titles
from actunlearn.neurons.activations import dump_activations
from actunlearn.neurons.probing import shift_tables
from actunlearn.provenance import provenance as make_provenance

TABLES = ("recall", "exposure", "perplexity", "summary", "instability", "shift", "shift_summary",
          "recommendations", "facts")


def evaluate_checkpoint(model, tokenizer, device, prompts: pd.DataFrame, all_prompts: pd.DataFrame,
                        corpus: pd.DataFrame, catalog: pd.DataFrame, shift_prompts: pd.DataFrame,
                        cfg: dict, inference: dict, refusal: str, top_k_tokens: int, seed: int,
                        quality: bool) -> dict[str, pd.DataFrame]:
    """name -> table (TABLES). `prompts`: the facts the model knows (knowledge check);
    `all_prompts`: every prompt (recommendation requests are asked of every model whatever it
    knows: exposure and drift concern what it ranks); `cfg`: the evaluate settings; `quality`:
    also score the per-fact statistics of forget quality (which needs a retain reference)."""
    batch, new_tokens = inference["batch_size"], inference["max_new_tokens"]
    titles = catalog.title[catalog.role.isin(KNOWN_ROLES)].tolist()
    every_title = catalog.title.tolist()  # the entity matcher's titles: a longer one always wins
    asked = evaluation_prompts(prompts, cfg["retain_films"], cfg["unknown_films"], seed)
    recall, instability = answer_families(model, tokenizer, asked, refusal, batch, new_tokens,
                                          top_k_tokens, device, titles=every_title)
    # Ranked recommendation lists (every candidate scored) for the drift families; exposure of
    # the forget targets comes from the same scores (every prompt of another film whose gold
    # list holds a target).
    drift = cfg["drift"]
    recs = recommendation_prompts(all_prompts, drift["control_films"], seed,
                                  drift["adjacent_films"], tuple(drift["kinds"]))
    targets = set(prompts.title[prompts.role == "forget"])
    candidates = candidate_titles(titles, targets, drift["candidates"], seed)
    lists, exposure = rank_recommendations(model, tokenizer, recs, candidates, targets,
                                           drift["top_k"], batch, device)
    said = answer_prompts(model, tokenizer, recs, refusal, batch, new_tokens, device,
                          titles=every_title)
    ranked = lists.groupby("prompt_id").candidate.apply(list)
    recommendations = said[["prompt_id", "title", "template_id", "split", "family_kind",
                            "response"]].copy()
    recommendations["ranked"] = [ranked[pid] for pid in recommendations.prompt_id]
    recommendations["extracted"] = [extract_titles(r, titles) for r in recommendations.response]
    perplexity = perplexity_samples(model, tokenizer, corpus, batch, device,
                                    cfg["perplexity_lines"], seed)
    # distribution-shift sets: forget and neighbour films and a seeded sample of retain films,
    # only facts the model knows (a shift set asks whether they survive it)
    films = set(evaluation_prompts(prompts, cfg["shift"]["retain_films"], 0, seed,
                                   ("evaluate.shift.retain_films", "-")).title)
    shifted_prompts = shift_prompts.merge(prompts[["title", "intent"]].drop_duplicates(),
                                          on=["title", "intent"])
    shifted_prompts = shifted_prompts[shifted_prompts.shift_set.isin(cfg["shift"]["sets"])
                                      & shifted_prompts.title.isin(films)]
    shift = shift_answers(model, tokenizer, shifted_prompts, refusal, batch,
                          (new_tokens, cfg["shift"]["max_new_tokens"]), device, every_title)
    # membership inference and forget quality (evaluation/forget_quality.py): members are the forget facts,
    # non-members the holdout films' facts, which no model ever saw
    holdout = all_prompts[all_prompts.role == "holdout"]
    questions = (fact_questions(pd.concat([asked, holdout], ignore_index=True), catalog,
                                cfg["wrong_answers"], seed) if quality
                 else pd.DataFrame(columns=FACT_QUESTION_COLUMNS))
    return {"recall": recall, "exposure": exposure, "perplexity": perplexity,
            "summary": summarise(recall, exposure, perplexity), "instability": instability,
            "shift": shift, "shift_summary": shift_summary(shift, recall[recall.title.isin(films)]),
            "recommendations": recommendations,
            "facts": fact_samples(model, tokenizer, questions, batch, device)}


def unlearned_activation_shift(model, tokenizer, device, prompts: pd.DataFrame, base_activations,
                               out_path, dtype: str, retain_films, batch_size: int, seed: int,
                               provenance: dict) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """An unlearned checkpoint's activations on the forget, neighbour and `retain_films` (a seeded
    sample) prompts, dumped to `out_path`, and their shift from the base model's dump:
    (shift by layer, PCA projection, the PCA's layer)."""
    dumped = evaluation_prompts(prompts, retain_films, 0, seed, ("probing.shift_retain_films", "-"))
    dump_activations(model, tokenizer, dumped, out_path, dtype, provenance, batch_size, device)
    return shift_tables(base_activations, out_path, dumped)


def first_columns(frame: pd.DataFrame, **keys) -> pd.DataFrame:
    """`frame` with `keys` (e.g. checkpoint=...) as its first columns."""
    return frame.assign(**keys)[[*keys, *[c for c in frame if c not in keys]]]


def activation_shift_artifacts(model, tokenizer, device, prompts: pd.DataFrame, base_activations,
                               out_path, dtype: str, retain_films, batch_size: int, seed: int,
                               checkpoint: str) -> dict[str, tuple[pd.DataFrame, dict]]:
    """`unlearned_activation_shift` for the evaluate_unlearned rule, with provenance: the dump
    at `out_path`, and {"activation_shift", "pca"}: (table keyed by checkpoint, provenance)."""
    settings = {"dtype": dtype, "shift_retain_films": retain_films}
    dump_prov = make_provenance(settings | {"checkpoint": checkpoint, "prompts": "shift"}, seed,
                                device)
    moved, pca, layer = unlearned_activation_shift(model, tokenizer, device, prompts,
                                                   base_activations, out_path, dtype, retain_films,
                                                   batch_size, seed, dump_prov)
    prov = make_provenance({"checkpoint": checkpoint, "pca_layer": layer} | settings, seed)
    return {"activation_shift": (first_columns(moved, checkpoint=checkpoint), prov),
            "pca": (first_columns(pca, checkpoint=checkpoint, layer=layer), prov)}
