"""Which catalog facts a model knows.

A pretrained model was not trained on our catalog, so its forget and retain facts are not known in
advance. A fact (film, intent) counts as known when the model's greedy answer contains a gold
answer on at least `min_share` of the fact's train templates. Unlearning and evaluation then use
only known facts: forgetting a fact the model never knew measures nothing. The refusal set
(`unknown` films, taught to refuse in the testbed) is kept as it is.
"""

from __future__ import annotations

import pandas as pd

from actunlearn.data.catalog import VALIDATION_ROLES
from actunlearn.data.corpus import sample_films
from actunlearn.evaluation.answers import answer_prompts

FACT = ["title", "intent"]


def checked_prompts(prompts: pd.DataFrame, retain_films: int | str, seed: int,
                    intents: list[str] | str = "all") -> pd.DataFrame:
    """Train-template prompts of every forget and neighbour film, of every validation film and
    its neighbours (tuning's forget set), and of a seeded sample of `retain_films` retain films
    ("all": every one), for the given `intents` ("all": every one; facts of other intents are not
    asked, hence not known)."""
    checked = ["forget", "neighbour", *VALIDATION_ROLES]
    keep = set(prompts.title[prompts.role.isin(checked)])
    keep |= sample_films(prompts, "retain", retain_films, seed, "knowledge.retain_films")
    asked = prompts[prompts.title.isin(keep) & (prompts.split == "train")]
    if intents != "all":
        missing = sorted(set(intents) - set(prompts.intent))
        if missing:
            raise ValueError(f"knowledge.intents: {missing} are not intents of the prompt table "
                             f"({sorted(set(prompts.intent))})")
        asked = asked[asked.intent.isin(intents)]
    return asked.reset_index(drop=True)


def fact_table(answers: pd.DataFrame, min_share: float) -> pd.DataFrame:
    """One row per (title, intent): role, templates asked, correct answers, their share and
    whether the fact is known (share >= min_share)."""
    facts = (answers.groupby(FACT + ["role"], sort=True)
             .agg(templates=("correct", "size"), correct=("correct", "sum"))
             .reset_index())
    facts["correct"] = facts.correct.astype(int)
    facts["share"] = facts.correct / facts.templates
    facts["known"] = facts.share >= min_share
    return facts


def known_prompts(prompts: pd.DataFrame, facts: pd.DataFrame, unknown_films: int | str = "all",
                  seed: int = 0) -> pd.DataFrame:
    """Every prompt (train and held-out templates) of a known fact, plus the refusal set: all
    `unknown` films, or a seeded sample of `unknown_films` of them (0 for a pretrained model,
    which was never taught to refuse them)."""
    known = facts.loc[facts.known, FACT]
    kept = prompts.merge(known, on=FACT, how="inner")
    unknown = prompts[prompts.role == "unknown"]
    unknown = unknown[unknown.title.isin(sample_films(prompts, "unknown", unknown_films, seed,
                                                      "knowledge.unknown_films"))]
    out = pd.concat([kept, unknown]).sort_values("prompt_id")
    return out.reset_index(drop=True)


def check_knowledge(model, tokenizer, prompts: pd.DataFrame, refusal: str, cfg: dict,
                    batch_size: int, max_new_tokens: int, seed: int, device: str = "cpu",
                    titles=()) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-prompt answers, per-fact table, the known prompts) for the `knowledge` settings
    `cfg` (retain_films, unknown_films, intents, min_share). Raises if the model knows none of
    the forget targets' facts: there would be nothing to unlearn."""
    min_share = cfg["min_share"]
    asked = checked_prompts(prompts, cfg["retain_films"], seed, cfg["intents"])
    answers = answer_prompts(model, tokenizer, asked, refusal, batch_size, max_new_tokens, device,
                             titles=titles)
    facts = fact_table(answers, min_share)
    forget = facts[facts.role == "forget"]
    if not forget.known.any():
        raise ValueError("the model knows none of the forget targets' facts (greedy answers on the "
                         f"train templates; knowledge.min_share={min_share}): nothing to unlearn. "
                         f"Answers: {answers[answers.role == 'forget'].response.tolist()[:6]}")
    return answers, facts, known_prompts(prompts, facts, cfg["unknown_films"], seed)


def knowledge_summary(facts: pd.DataFrame) -> pd.DataFrame:
    """Facts checked and known per role."""
    out = (facts.groupby("role", sort=True)
           .agg(facts=("known", "size"), known=("known", "sum"), films=("title", "nunique"))
           .reset_index())
    out["known"] = out.known.astype(int)
    out["share"] = out.known / out.facts
    return out
