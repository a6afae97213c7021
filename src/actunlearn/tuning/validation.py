"""Tuning's view of the study: the validation films play the forget set, the test films are gone.

`validation_view` remaps the validation films (catalog roles val_forget, val_neighbour) to the
roles forget and neighbour, and drops every prompt, corpus line and knowledge-check answer that
mentions a test forget film or a test neighbour (by title, gold list, the corpus's `mentions`, and
the entity matcher on every text), so that a tuning job, which runs the study's own library
functions on the view, cannot read a test fact. `check_disjoint` asserts it on the tables written.
"""

from __future__ import annotations

import pandas as pd

from actunlearn.data.catalog import VALIDATION_ROLES
from actunlearn.data.corpus import evaluation_prompts, sample_films
from actunlearn.metrics.matching import extract_titles

TEST_ROLES = ("forget", "neighbour")
# the roles of the view's prompt tables, from the study's (test films' rows are dropped)
VIEW_ROLES = {**VALIDATION_ROLES, "retain": "retain", "unknown": "unknown", "holdout": "holdout"}


def tested_titles(catalog: pd.DataFrame) -> set[str]:
    """The study's test films: the forget targets and their neighbours."""
    return set(catalog.title[catalog.role.isin(TEST_ROLES)])


def _mentions_test(texts, titles: list[str], test: set[str]) -> list[bool]:
    return [bool(set(extract_titles(t, titles)) & test) if isinstance(t, str) else False
            for t in texts]


def _clean_prompts(frame: pd.DataFrame, titles: list[str], test: set[str]) -> pd.DataFrame:
    """`frame` without a row whose title, gold list, question or response names a test film,
    roles remapped (VIEW_ROLES)."""
    drop = frame.title.isin(test)
    if "gold" in frame:
        drop |= frame.gold.apply(lambda g: bool(set(g) & test))
    for col in ("question", "response"):
        if col in frame:
            drop |= pd.Series(_mentions_test(frame[col], titles, test), index=frame.index)
    out = frame[~drop].copy()
    out["role"] = out.role.map(VIEW_ROLES)
    return out.reset_index(drop=True)


def validation_view(catalog: pd.DataFrame, corpus: pd.DataFrame, prompts: pd.DataFrame,
                    known: pd.DataFrame, answers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """name -> table of the view: `catalog` (roles remapped; test films kept as role `test`
    so that the entity matcher still knows their titles, with no fact of theirs anywhere else),
    `corpus` (without any line mentioning a test film; `forget` marks the lines mentioning a
    validation film), `prompts` and `known` (the full and the known prompt tables, remapped),
    `answers` (the knowledge check's answers, the retain data of unlearn.retain_data
    own_answers), and `reference_corpus`: the study's whole corpus with `forget` marking the
    validation films' lines, from which the testbed trains the validation retain reference."""
    titles = catalog.title.tolist()
    test = tested_titles(catalog)
    held = set(catalog.title[catalog.role == "val_forget"])
    if not held:
        raise ValueError("tuning: the catalog has no validation film (catalog.validation is 0)")
    view_catalog = catalog.copy()
    view_catalog["role"] = [VALIDATION_ROLES.get(r, "test" if r in TEST_ROLES else r)
                            for r in catalog.role]
    mentions_held = corpus.mentions.apply(lambda m: bool(set(m) & held))
    reference_corpus = corpus.assign(forget=mentions_held)
    keep = ~corpus.mentions.apply(lambda m: bool(set(m) & test))
    keep &= ~pd.Series(_mentions_test(corpus.text, titles, test), index=corpus.index)
    view_corpus = reference_corpus[keep].reset_index(drop=True)
    view = {"catalog": view_catalog, "corpus": view_corpus,
            "prompts": _clean_prompts(prompts, titles, test),
            "known": _clean_prompts(known, titles, test),
            "answers": _clean_prompts(answers, titles, test),
            "reference_corpus": reference_corpus}
    if not (view["known"].role == "forget").any():
        raise ValueError("tuning: the model knows no fact of the validation films "
                         f"{sorted(held)} (knowledge check): nothing to tune on")
    return view


def tuning_prompts(view_known: pd.DataFrame, study_known: pd.DataFrame, retain_films: int,
                   study_retain: dict, seed: int) -> pd.DataFrame:
    """The prompts a tuning trial is scored on: every known prompt (train and held-out templates)
    of the validation films and their neighbours, and of a seeded sample of `retain_films` retain
    films that the study's evaluation does not ask (`study_retain`: evaluate.retain_films and
    evaluate.shift.retain_films, sampled as the evaluation samples them from `study_known`)."""
    asked = set(evaluation_prompts(study_known, study_retain["retain_films"], 0, seed).title)
    asked |= set(evaluation_prompts(study_known, study_retain["shift_retain_films"], 0, seed,
                                    ("evaluate.shift.retain_films", "-")).title)
    free = view_known[(view_known.role == "retain") & ~view_known.title.isin(asked)]
    films = sample_films(free, "retain", retain_films, seed, "tuning.retain_films") if retain_films else set()
    keep = view_known.role.isin(["forget", "neighbour"]) | view_known.title.isin(films)
    return view_known[keep].reset_index(drop=True)


def check_disjoint(catalog: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    """Raise AssertionError if any row of the view's `tables` (prompts: title, gold, question;
    corpus: mentions, text; answers, manifests: title, question, response, text) names a test
    forget film or a test neighbour. `catalog`: the study's, or the view's (role `test`)."""
    titles = catalog.title.tolist()
    test = (set(catalog.title[catalog.role == "test"]) if (catalog.role == "test").any()
            else tested_titles(catalog))
    for name, frame in tables.items():
        hits = set()
        if "title" in frame:
            hits |= set(frame.title) & test
        for col in ("gold", "mentions"):
            if col in frame:
                hits |= {t for g in frame[col] for t in g} & test
        for col in ("question", "text", "response"):
            if col in frame:
                hits |= {t for text in frame[col] if isinstance(text, str)
                         for t in extract_titles(text, titles)} & test
        if hits:
            raise AssertionError(f"tuning view {name}: mentions test films {sorted(hits)}")
