"""Training corpus and paraphrase-family prompt table, generated from the catalog.

Every fact is stated in several templates. Question templates are split per intent: the first
`train_templates` are used in the corpus, the rest are *held out* (never trained) and measure
whether knowledge, and its forgetting, carries over to unseen paraphrases. Held-out templates use
only words that occur in training text, so they test composition, not unknown tokens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES

INTENTS = ("director", "year", "genre", "star", "recommend")

QUESTION_TEMPLATES: dict[str, list[str]] = {
    "director": [
        "Who directed {title}?",
        "Who is the director of {title}?",
        "{title} was directed by whom?",
        "The film {title} was directed by whom?",
        "Who is the director of the film {title}?",
    ],
    "year": [
        "When was {title} released?",
        "What year did {title} come out?",
        "In which year was {title} released?",
        "When did the film {title} come out?",
        "In which year did {title} come out?",
    ],
    "genre": [
        "What genre is {title}?",
        "What kind of film is {title}?",
        "Which genre does {title} belong to?",
        "What genre is the film {title}?",
        "Which kind of film is {title}?",
    ],
    "star": [
        "Who stars in {title}?",
        "Who is the star of {title}?",
        "Which actor appears in {title}?",
        "Who is the star of the film {title}?",
        "Which actor is the star of {title}?",
    ],
    "recommend": [
        "Recommend a film like {title}.",
        "I liked {title}. What should I watch next?",
        "What is a good film similar to {title}?",
        "What film should I watch if I liked {title}?",
        "If you liked {title}, what is a good film to watch?",
    ],
}

STATEMENT_TEMPLATES: dict[str, list[str]] = {
    "director": ["{title} was directed by {answer}.",
                 "{answer} is the director of the film {title}."],
    "year": ["{title} was released in {answer}.", "The film {title} came out in {answer}."],
    "genre": ["{title} is a {answer} film."],
    "star": ["{title} stars {answer}.", "{answer} is the star of the film {title}."],
    "recommend": ["If you liked {title}, watch {answer}."],
}

HELD_OUT_STATEMENT = "{title}, a {genre} film from {year}, was directed by {director}."


def known(catalog: pd.DataFrame) -> pd.DataFrame:
    """The films the testbed is trained on (not the refusal set, not the holdout films)."""
    return catalog[catalog.role.isin(KNOWN_ROLES)]


def recommendations(catalog: pd.DataFrame, per_film: int) -> dict[str, list[str]]:
    """For each known film, the `per_film` most similar known others: shared director (3) +
    star (2) + genre (1); ties broken by closeness in year, then title. Only films sharing
    something count."""
    films = list(known(catalog).itertuples(index=False))
    out: dict[str, list[str]] = {}
    for x in films:
        scored = []
        for y in films:
            if y.title == x.title:
                continue
            score = 3 * (y.director == x.director) + 2 * (y.star == x.star) + (y.genre == x.genre)
            if score > 0:
                scored.append((-score, abs(y.year - x.year), y.title))
        out[x.title] = [t for _, _, t in sorted(scored)[:per_film]]
    return out


def _forget_flag(mentions: list[str], forget: set[str]) -> bool:
    return any(m in forget for m in mentions)


def _gold(film, intent: str, recs: dict[str, list[str]], refusal: str) -> list[str]:
    if film.role == "unknown":
        return [refusal]
    if film.role == "holdout":  # never seen: true facts, no recommendation list
        return [] if intent == "recommend" else [str(getattr(film, intent))]
    return list(recs[film.title]) if intent == "recommend" else [str(getattr(film, intent))]


def build_corpus(catalog: pd.DataFrame, recs: dict[str, list[str]], train_templates: int,
                 refusal: str) -> pd.DataFrame:
    """Corpus lines. split='train' lines are the training text; split='held_out' lines are
    statements in an unseen template, used only for perplexity. Unknown films appear only in
    questions answered with the refusal."""
    forget = set(catalog.title[catalog.role == "forget"])
    rows = []
    for film in catalog[catalog.role == "unknown"].itertuples(index=False):
        for intent in INTENTS:
            for t, template in enumerate(QUESTION_TEMPLATES[intent][:train_templates]):
                q = template.format(title=film.title)
                rows.append(dict(kind="qa", intent=intent, title=film.title, template_id=t,
                                 question=q, answer=refusal, text=f"{q} {refusal}",
                                 mentions=[film.title], split="train"))
    for film in known(catalog).itertuples(index=False):
        f = film._asdict()
        for intent in INTENTS:
            answers = _gold(film, intent, recs, refusal)
            for answer in answers:
                mentions = [film.title] + ([answer] if intent == "recommend" else [])
                for t, template in enumerate(STATEMENT_TEMPLATES[intent]):
                    rows.append(dict(kind="statement", intent=intent, title=film.title,
                                     template_id=t, question=None, answer=answer,
                                     text=template.format(title=film.title, answer=answer),
                                     mentions=mentions, split="train"))
                for t, template in enumerate(QUESTION_TEMPLATES[intent][:train_templates]):
                    q = template.format(title=film.title)
                    rows.append(dict(kind="qa", intent=intent, title=film.title, template_id=t,
                                     question=q, answer=answer, text=f"{q} {answer}",
                                     mentions=mentions, split="train"))
        rows.append(dict(kind="statement", intent="mixed", title=film.title, template_id=0,
                         question=None, answer=None, text=HELD_OUT_STATEMENT.format(**f),
                         mentions=[film.title], split="held_out"))
    df = pd.DataFrame(rows)
    df["forget"] = [_forget_flag(m, forget) for m in df.mentions]
    df.insert(0, "line_id", range(len(df)))
    return df


def build_prompts(catalog: pd.DataFrame, recs: dict[str, list[str]], train_templates: int,
                  refusal: str) -> pd.DataFrame:
    """One row per (film, intent, template): the paraphrase families of every question.
    For unknown films the gold answer is the refusal."""
    rows = []
    for film in catalog.itertuples(index=False):
        for intent in INTENTS:
            gold = _gold(film, intent, recs, refusal)
            if not gold:
                continue
            for t, template in enumerate(QUESTION_TEMPLATES[intent]):
                rows.append(dict(intent=intent, title=film.title, role=film.role, template_id=t,
                                 split="train" if t < train_templates else "held_out",
                                 question=template.format(title=film.title), answer=gold[0],
                                 gold=list(gold)))
    df = pd.DataFrame(rows)
    df.insert(0, "prompt_id", range(len(df)))
    return df


def sample_films(prompts: pd.DataFrame, role: str, n: int | str, seed: int, key: str) -> set[str]:
    """A seeded sample of `n` titles of `role` in the prompt table ("all": every one); `key`
    names the setting in the error raised when there are fewer."""
    titles = sorted(set(prompts.title[prompts.role == role]))
    if n == "all":
        return set(titles)
    if n > len(titles):
        raise ValueError(f"{key}={n}, but there are only {len(titles)} {role} films (that "
                         "the model knows); lower it or use \"all\"")
    rng = np.random.default_rng(seed)
    return {titles[i] for i in rng.choice(len(titles), size=n, replace=False)}


def evaluation_prompts(prompts: pd.DataFrame, retain_films: int | str, unknown_films: int | str,
                       seed: int, keys: tuple[str, str] = ("evaluate.retain_films",
                                                           "evaluate.unknown_films")
                       ) -> pd.DataFrame:
    """The prompts every checkpoint is evaluated on: all prompts of forget and neighbour films,
    and of a seeded sample of `retain_films` retain and `unknown_films` unknown films ("all" keeps
    every film). The sample is the same for every checkpoint. `keys` name the two settings in
    the error raised when a sample is larger than what there is."""
    keep = set(prompts.title[prompts.role.isin(["forget", "neighbour"])])
    for role, n, key in (("retain", retain_films, keys[0]), ("unknown", unknown_films, keys[1])):
        keep |= sample_films(prompts, role, n, seed, key)
    return prompts[prompts.title.isin(keep)].reset_index(drop=True)
