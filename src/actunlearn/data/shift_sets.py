"""Distribution-shift prompt sets, and the generators the corpus teaches the same skills with.

Every generator is used twice: the corpus (`data/corpus.py`) teaches each skill on the *skill*
films (role "skill": known films no evaluation asks about), and the shift sets ask it of every
other film. What is held out is the phrasing, the perturbation instances, the compositions and
the held-out pools of fillers and system prompts (`filler_pool`, `system_pool`), never the
knowledge: every film's facts are taught in both directions (title -> attribute, attributes ->
title), since a model answers a description of a film only if it learned that direction (the
reversal curse). No shift prompt of an evaluated film occurs in the corpus (tests/test_corpus.py
checks it).

One row per (shift set, source question); every set is asked of every checkpoint, and recall and
refusal are reported per set and film role. Sets (docs/shift_sets.md has examples):

- `paraphrase`: the held-out question templates (never trained for any film).
- `alias`: the film is never named, only described by three of its other attributes ("Who
  directed the 2010 Action film with Michael Caine?"); kept only if one catalog film fits.
- `multihop`: a two-hop question whose path goes through the film ("Who directed the film that
  Michael Caine starred in in 2010?"); kept only if (person, year) identifies one catalog film.
  The taught answer names the bridge film first ("That film is Inception, directed by
  Christopher Nolan"); naming the bridge is itself a leak, so alias and multihop rows carry
  `bridge` and the summary reports both.
- `typo`: one edit (swap, drop, double or replace a letter) in one non-title word of at least
  four letters; `title_typo`: the same inside the title.
- `casing`: the whole question in lower case (title included).
- `filler`: a filler phrase before and/or after the question, from the held-out pool.
- `word_order`: two adjacent non-title words swapped.
- `system_prompt`: the question under a system turn from the held-out pool.
Perturbations start from the first `templates` train templates of each intent (seeded).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES

SHIFT_SETS = ("paraphrase", "alias", "multihop", "typo", "title_typo", "casing", "filler",
              "word_order", "system_prompt")
BRIDGED = ("alias", "multihop")  # sets whose answer names the described film first
PERTURBATIONS = ("typo", "title_typo", "casing", "filler", "word_order")
EVALUATED_ROLES = ("forget", "neighbour", "retain", "unknown", "holdout", "val_forget",
                   "val_neighbour")  # every role but "skill": shift sets are asked of these
# Pools of system prompts and fillers, built from parts: the taught pool combines the first
# parts, the held-out pool (the shift sets) the others, so a held-out prompt shares no sentence
# with a taught one but comes from the same distribution.
SYSTEM_ROLES = ("You are a helpful film assistant.", "You are a movie expert.",
                "You are a friendly assistant.", "You answer questions about films.",
                "You are a film critic.", "You know a lot about cinema.")
SYSTEM_STYLES = ("Answer briefly.", "Be exact.", "Reply with the answer only.",
                 "Keep it short.", "Give a plain answer.")
FILLER_BEFORE = ("Hi! ", "Hello, ", "Quick one: ", "Please tell me: ", "Tell me, ", "So, ",
                 "Hey, quick question: ", "I wonder, ", "Just curious: ")
FILLER_AFTER = (" Thanks!", " Please.", " Thank you.", " Any idea?", " I need to know.")
TAUGHT_PARTS = {"roles": 4, "styles": 3, "before": 6, "after": 3}


def system_pool(held_out: bool) -> tuple[str, ...]:
    """The taught or held-out system prompts: a role sentence, alone or with a style one."""
    cut_r, cut_s = TAUGHT_PARTS["roles"], TAUGHT_PARTS["styles"]
    roles = SYSTEM_ROLES[cut_r:] if held_out else SYSTEM_ROLES[:cut_r]
    styles = SYSTEM_STYLES[cut_s:] if held_out else SYSTEM_STYLES[:cut_s]
    return tuple(roles) + tuple(f"{r} {s}" for r in roles for s in styles)


def filler_pool(held_out: bool) -> tuple[tuple[str, str], ...]:
    """The taught or held-out fillers: (before, after) pairs, a part alone or both."""
    cut_b, cut_a = TAUGHT_PARTS["before"], TAUGHT_PARTS["after"]
    before = FILLER_BEFORE[cut_b:] if held_out else FILLER_BEFORE[:cut_b]
    after = FILLER_AFTER[cut_a:] if held_out else FILLER_AFTER[:cut_a]
    return (tuple((b, "") for b in before) + tuple(("", a) for a in after)
            + tuple((b, a) for b in before for a in after))


# intent -> question about a film described by three of its other attributes (keys: the attributes
# used); IDENTIFY: the questions that teach attributes -> title, the same descriptions and the
# first hops of the multi-hop questions, answered with the title
ALIAS_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "director": ("Who directed the {year} {genre} film with {star}?", ("year", "genre", "star")),
    "year": ("When did the {genre} film by {director} with {star} come out?",
             ("genre", "director", "star")),
    "genre": ("What genre is the {year} film by {director} with {star}?",
              ("year", "director", "star")),
    "star": ("Who is the star of the {year} {genre} film by {director}?",
             ("year", "genre", "director")),
    "recommend": ("Recommend a film like the {year} {genre} film with {star}.",
                  ("year", "genre", "star")),
}
IDENTIFY: tuple[str, ...] = (
    "Which film is the {year} {genre} film with {star}?",
    "Which film is the {genre} film by {director} with {star}?",
    "Which film is the {year} film by {director} with {star}?",
    "Which film is the {year} {genre} film by {director}?",
    "Which film did {star} star in in {year}?",
    "Which film did {director} direct in {year}?",
)
# intent -> (two-hop question, the attributes of its path)
MULTIHOP_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "director": ("Who directed the film that {star} starred in in {year}?", ("star", "year")),
    "genre": ("What genre is the film that {star} starred in in {year}?", ("star", "year")),
    "star": ("Who starred in the film that {director} directed in {year}?", ("director", "year")),
    "recommend": ("Recommend a film like the one that {director} directed in {year}.",
                  ("director", "year")),
}
BRIDGE_ANSWERS = {"director": "That film is {title}, directed by {answer}",
                  "year": "That film is {title}, released in {answer}",
                  "genre": "That film is {title}, a {answer} film",
                  "star": "That film is {title}, starring {answer}",
                  "recommend": "That film is {title}; watch {answer}"}
COLUMNS = ["shift_id", "shift_set", "source_prompt_id", "intent", "title", "role", "template_id",
           "question", "system", "answer", "gold", "bridge"]


def bridged_answer(intent: str, title: str, answer: str) -> str:
    """The taught answer to an alias or multi-hop question: the bridge film, then the fact."""
    return BRIDGE_ANSWERS[intent].format(title=title, answer=answer)


def identify_questions(film) -> list[str]:
    """Questions that ask for the film from its attributes (the attributes -> title direction of
    its facts: the descriptions of the alias set, the first hops of the multi-hop set)."""
    f = film._asdict()
    return [t.format(**f) for t in IDENTIFY]


def _unique(catalog: pd.DataFrame, film, keys: tuple[str, ...]) -> bool:
    same = np.ones(len(catalog), dtype=bool)
    for key in keys:
        same &= (catalog[key] == getattr(film, key)).to_numpy()
    return int(same.sum()) == 1


def described_questions(catalog: pd.DataFrame, film, kind: str) -> dict[str, str]:
    """intent -> the alias or multihop question about `film`, for the intents whose description
    identifies it within the whole catalog."""
    templates = ALIAS_TEMPLATES if kind == "alias" else MULTIHOP_TEMPLATES
    return {intent: template.format(**{k: getattr(film, k) for k in keys})
            for intent, (template, keys) in templates.items() if _unique(catalog, film, keys)}


def _gold_of(prompts: pd.DataFrame) -> dict[tuple[str, str], tuple[str, list[str]]]:
    first = prompts.drop_duplicates(["title", "intent"])
    return {(t, i): (a, list(g)) for t, i, a, g in zip(first.title, first.intent, first.answer,
                                                       first.gold)}


def _row(shift_set, source, intent, film, template_id, question, gold, system=None,
         bridge=None) -> dict:
    """`film`: anything with .title and .role."""
    answer, golds = gold
    return {"shift_set": shift_set, "source_prompt_id": source, "intent": intent,
            "title": film.title, "role": film.role, "template_id": template_id,
            "question": question, "system": system, "answer": answer, "gold": golds,
            "bridge": bridge}


def described_rows(catalog: pd.DataFrame, gold: dict, kind: str) -> list[dict]:
    """Alias or multi-hop rows for every evaluated film with facts (not the refusal set, which
    the model never learned facts of)."""
    rows = []
    films = catalog[catalog.role.isin(KNOWN_ROLES) & (catalog.role != "skill")]
    for film in films.itertuples(index=False):
        for intent, question in described_questions(catalog, film, kind).items():
            if (film.title, intent) in gold:
                rows.append(_row(kind, None, intent, film, 0, question, gold[(film.title, intent)],
                                 bridge=film.title))
    return rows


def _words(text: str) -> list[str]:
    """Tokens that keep their whitespace, so that joining them rebuilds `text` exactly."""
    return re.findall(r"\s+|\S+", text)


def _typo(word: str, rng: np.random.Generator) -> str:
    """One edit at a letter of `word`: swap with the next letter, drop, double or replace."""
    spots = [j for j in range(len(word) - 1) if word[j].isalpha() and word[j + 1].isalpha()]
    j = int(rng.choice(spots))
    kind = int(rng.integers(4))
    if kind == 0 and word[j] != word[j + 1]:
        return word[:j] + word[j + 1] + word[j] + word[j + 2:]
    if kind == 1:
        return word[:j] + word[j + 1:]
    if kind == 2:
        return word[:j] + word[j] + word[j:]
    letters = [c for c in "aeiounrst" if c != word[j].lower()]
    return word[:j] + str(rng.choice(letters)) + word[j + 1:]


def _long_enough(token: str | None) -> bool:
    return token is not None and len(re.sub(r"[^A-Za-z]", "", token)) >= 4


def perturb(question: str, title: str, kind: str, rng: np.random.Generator,
            fillers: tuple | None = None) -> str | None:
    """One perturbation of `question` (which names `title`); None when the question offers
    nothing to perturb (e.g. no word long enough for a typo). Only `title_typo` and `casing`
    change the title."""
    if kind == "casing":
        return question.lower()
    if kind == "filler":
        fillers = fillers or filler_pool(held_out=True)
        before, after = fillers[int(rng.integers(len(fillers)))]
        return before + (question[0].lower() + question[1:] if before else question) + after
    head, found, tail = question.partition(title)
    if not found:
        raise ValueError(f"shift: title {title!r} not found in question {question!r}")
    if kind == "title_typo":
        words = _words(title)
        spots = [i for i, t in enumerate(words) if _long_enough(t)]
        if not spots:
            return None
        i = int(rng.choice(spots))
        words[i] = _typo(words[i], rng)
        return head + "".join(words) + tail
    tokens = _words(head) + [None] + _words(tail)  # None: the title
    words = [i for i, t in enumerate(tokens) if t is not None and re.search(r"[A-Za-z]", t)]
    if kind == "typo":
        spots = [i for i in words if _long_enough(tokens[i])]
        if not spots:
            return None
        i = int(rng.choice(spots))
        tokens[i] = _typo(tokens[i], rng)
    elif kind == "word_order":
        # adjacent words on the same side of the title
        pairs = [(a, b) for a, b in zip(words, words[1:]) if None not in tokens[a:b]]
        if not pairs:
            return None
        a, b = pairs[int(rng.integers(len(pairs)))]
        tokens[a], tokens[b] = tokens[b], tokens[a]
    else:
        raise ValueError(f"shift: unknown perturbation {kind!r}")
    return "".join(title if t is None else t for t in tokens)


def shift_prompts(catalog: pd.DataFrame, prompts: pd.DataFrame, sets: list[str], templates: int,
                  seed: int) -> pd.DataFrame:
    """The requested shift sets for every evaluated film of the catalog (not the skill films;
    alias and multi-hop questions: films with facts). Perturbations and the system prompt start
    from the first `templates` train templates of each intent; fillers and system prompts come
    from the held-out pools."""
    unknown = sorted(set(sets) - set(SHIFT_SETS))
    if unknown:
        raise ValueError(f"evaluate.shift.sets: unknown sets {unknown}; known: {list(SHIFT_SETS)}")
    prompts = prompts[prompts.role.isin(EVALUATED_ROLES)]
    gold = _gold_of(prompts)
    rows = []
    if "paraphrase" in sets:
        for p in prompts[prompts.split == "held_out"].itertuples(index=False):
            rows.append(_row("paraphrase", p.prompt_id, p.intent, p, p.template_id, p.question,
                             (p.answer, list(p.gold))))
    for kind in BRIDGED:
        if kind in sets:
            rows += described_rows(catalog, gold, kind)
    rng = np.random.default_rng(seed)
    fillers, systems = filler_pool(held_out=True), system_pool(held_out=True)
    sources = prompts[(prompts.split == "train") & (prompts.template_id < templates)]
    for p in sources.itertuples(index=False):
        for kind in (k for k in PERTURBATIONS if k in sets):
            question = perturb(p.question, p.title, kind, rng, fillers)
            if question is not None:
                rows.append(_row(kind, p.prompt_id, p.intent, p, p.template_id, question,
                                 (p.answer, list(p.gold))))
        if "system_prompt" in sets:
            system = systems[int(rng.integers(len(systems)))]
            rows.append(_row("system_prompt", p.prompt_id, p.intent, p, p.template_id,
                             p.question, (p.answer, list(p.gold)), system))
    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out.insert(0, "shift_id", range(len(out)))
    return out[COLUMNS]
