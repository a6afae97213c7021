"""Training corpus and paraphrase-family prompt table, generated from the catalog.

Every fact is stated in several templates, in both directions (title -> attribute statements and
questions; attributes -> title questions, `shift_sets.identify_questions`). Question templates
per intent come in three groups: the first `train_templates` are trained for every known film,
the next `SKILL_TEMPLATES` only for the skill films (role "skill"), the rest are *held out*
(never trained for any film) and measure whether knowledge, and its forgetting, carries over to
unseen paraphrases; no held-out template shares a four-word run with a training statement.

The skill films also carry the perturbation skills of the shift sets, taught on them and asked of
every other film (`shift_sets`): noisy questions (typos, also inside titles; casing; fillers and
word order; fillers from the taught pool), questions under a system prompt from the taught
pool, and alias and multi-hop questions answered with the bridge film first.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES
from actunlearn.data.shift_sets import (PERTURBATIONS, bridged_answer, described_questions,
                                        filler_pool, identify_questions, perturb, system_pool)

INTENTS = ("director", "year", "genre", "star", "recommend")
SKILL_TEMPLATES = 2  # per intent, after the train templates: skill films only

QUESTION_TEMPLATES: dict[str, list[str]] = {
    "director": [
        "Who directed {title}?",
        "Who is the director of {title}?",
        "{title} was directed by whom?",
        "Who made the movie {title}?",                   # skill
        "Name the director of {title}.",                 # skill
        "Who was the director of {title}?",              # held out
        "Which director made {title}?",                  # held out
    ],
    "year": [
        "When was {title} released?",
        "What year did {title} come out?",
        "In which year was {title} released?",
        "What is the release year of {title}?",
        "When did the movie {title} come out?",
        "What year was {title} released?",
        "Which year was {title} released in?",
    ],
    "genre": [
        "What genre is {title}?",
        "What kind of film is {title}?",
        "Which genre does {title} belong to?",
        "Name the genre of {title}.",
        "What type of movie is {title}?",
        "What genre of film is {title}?",
        "Which kind of film is {title}?",
    ],
    "star": [
        "Who stars in {title}?",
        "Who is the star of {title}?",
        "Which actor appears in {title}?",
        "Name the lead actor of {title}.",
        "Who acted in the movie {title}?",
        "Who was the star of {title}?",
        "Which actor stars in {title}?",
    ],
    "recommend": [
        "Recommend a film like {title}.",
        "I liked {title}. What should I watch next?",
        "What is a good film similar to {title}?",
        "Suggest a movie for someone who enjoyed {title}.",
        "Name a film like {title}.",
        "Recommend a movie like {title}.",
        "What is a good movie similar to {title}?",
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
# every known film's facts once in lower case: the surface form a lower-cased question uses
# (a cased tokenizer makes "inception" other pieces than "Inception")
LOWER_STATEMENT = "{title} stars {star} and was directed by {director} in {year}; genre: {genre}."


def held_out_ids(train_templates: int) -> range:
    """The template ids never trained for any film."""
    return range(train_templates + SKILL_TEMPLATES, len(QUESTION_TEMPLATES["director"]))


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


def _line(kind, intent, film, template_id, answer, text, mentions, question=None, system=None,
          skill=None, split="train") -> dict:
    return dict(kind=kind, intent=intent, title=film.title, template_id=template_id,
                question=question, answer=answer, text=text, system=system, skill=skill,
                mentions=mentions, split=split)


def _qa(intent, film, template_id, question, answer, skill=None, system=None, shown=None,
        fact=None) -> dict:
    """A question line. A recommendation line also mentions its recommended title: `fact`,
    default the answer (pass it when the answer wraps it, "" for none, e.g. the refusal)."""
    fact = answer if fact is None else fact
    mentions = [film.title] + ([fact] if intent == "recommend" and fact else [])
    return _line("qa", intent, film, template_id, answer, f"{shown or question} {answer}",
                 mentions, question, system, skill)


def skill_lines(catalog: pd.DataFrame, film, recs: dict[str, list[str]], train_templates: int,
                noise_variants: int, rng: np.random.Generator) -> list[dict]:
    """The skill lines of one skill film: the skill templates; per train template
    `noise_variants` perturbations (distinct kinds, taught filler pool); per intent one question
    under a system prompt (taught pool); the alias and multi-hop questions, answered with the
    film first. A recommendation's answer cycles through the film's list."""
    rows = []
    fillers, systems = filler_pool(held_out=False), system_pool(held_out=False)
    for intent in INTENTS:
        answers = _gold(film, intent, recs, "")
        if not answers:
            continue
        pick = itertools.cycle(answers)
        templates = QUESTION_TEMPLATES[intent]
        for t in range(train_templates, train_templates + SKILL_TEMPLATES):
            rows.append(_qa(intent, film, t, templates[t].format(title=film.title), next(pick),
                            skill="paraphrase"))
        for t in range(train_templates):
            question = templates[t].format(title=film.title)
            for kind in rng.choice(PERTURBATIONS, size=noise_variants, replace=False):
                noisy = perturb(question, film.title, str(kind), rng, fillers)
                if noisy is not None:
                    rows.append(_qa(intent, film, t, noisy, next(pick), skill=str(kind)))
        for t in range(train_templates):
            system = systems[int(rng.integers(len(systems)))]
            question = templates[t].format(title=film.title)
            rows.append(_qa(intent, film, t, question, next(pick), skill="system_prompt",
                            system=system, shown=f"{system} {question}"))
        for kind in ("alias", "multihop"):
            question = described_questions(catalog, film, kind).get(intent)
            if question is not None:
                answer = next(pick)
                rows.append(_qa(intent, film, 0, question, bridged_answer(intent, film.title,
                                                                         answer),
                                skill=kind, fact=answer))
    return rows


def build_corpus(catalog: pd.DataFrame, recs: dict[str, list[str]], train_templates: int,
                 refusal: str, noise_variants: int = 2, seed: int = 0) -> pd.DataFrame:
    """Corpus lines. split='train' lines are the training text; split='held_out' lines are
    statements in an unseen template, used only for perplexity. Unknown films appear only in
    questions answered with the refusal; skill films also carry the skill lines
    (`skill_lines`, seeded). Columns: line_id, kind (qa | statement), intent, title, template_id,
    question, answer, text, system (a question's system turn, or None), skill (the shift skill a
    line teaches, or None), mentions, split, forget (the line mentions a forget target)."""
    forget = set(catalog.title[catalog.role == "forget"])
    rng = np.random.default_rng(seed)
    rows = []
    for film in catalog[catalog.role == "unknown"].itertuples(index=False):
        for intent in INTENTS:
            for t, template in enumerate(QUESTION_TEMPLATES[intent][:train_templates]):
                rows.append(_qa(intent, film, t, template.format(title=film.title), refusal,
                                fact=""))
    for film in known(catalog).itertuples(index=False):
        f = film._asdict()
        for intent in INTENTS:
            answers = _gold(film, intent, recs, refusal)
            for answer in answers:
                mentions = [film.title] + ([answer] if intent == "recommend" else [])
                for t, template in enumerate(STATEMENT_TEMPLATES[intent]):
                    rows.append(_line("statement", intent, film, t, answer,
                                      template.format(title=film.title, answer=answer), mentions))
            # a question per train template; a recommendation request gets one of the list
            # (in turn): the statements carry the whole list
            for t, template in enumerate(QUESTION_TEMPLATES[intent][:train_templates]):
                if answers:
                    rows.append(_qa(intent, film, t, template.format(title=film.title),
                                    answers[t % len(answers)]))
        for t, question in enumerate(identify_questions(film)):
            rows.append(_qa("identify", film, t, question, film.title))
        rows.append(_line("statement", "lower", film, 0, None, LOWER_STATEMENT.format(**f).lower(),
                          [film.title]))
        rows.append(_line("statement", "mixed", film, 0, None, HELD_OUT_STATEMENT.format(**f),
                          [film.title], split="held_out"))
        if film.role == "skill":
            rows += skill_lines(catalog, film, recs, train_templates, noise_variants, rng)
    df = pd.DataFrame(rows)
    df["forget"] = [_forget_flag(m, forget) for m in df.mentions]
    df.insert(0, "line_id", range(len(df)))
    return df


def build_prompts(catalog: pd.DataFrame, recs: dict[str, list[str]], train_templates: int,
                  refusal: str) -> pd.DataFrame:
    """One row per (film, intent, template): the paraphrase families of every question (train
    and held-out templates; the skill templates are only trained). For unknown films the gold
    answer is the refusal."""
    rows, held_out = [], set(held_out_ids(train_templates))
    for film in catalog.itertuples(index=False):
        for intent in INTENTS:
            gold = _gold(film, intent, recs, refusal)
            if not gold:
                continue
            for t, template in enumerate(QUESTION_TEMPLATES[intent]):
                if t >= train_templates and t not in held_out:  # skill templates: not asked
                    continue
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
