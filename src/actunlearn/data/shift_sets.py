"""Distribution-shift prompt sets: where does forgetting leak?

Built from the catalog and the prompt table; no shift prompt is used in training or unlearning.
One row per (shift set, source question); every set is asked of every checkpoint, and recall and
refusal are reported per set and film role. Sets:

- `paraphrase`: the held-out question templates (as in the main evaluation).
- `alias`: the film is never named, only described by its other attributes, e.g. "Who directed
  the 2010 Action film with Michael Caine?". A description is kept only if exactly one catalog
  film fits it.
- `multihop`: the film is the bridge of a two-hop question, e.g. "Who is the star of the 2010
  film by the director of The Prestige?" (other film -> its director -> that director's film of
  that year -> its star). Kept only if (director, year) identifies one catalog film.
- `typo`, `casing`, `filler`, `word_order`: the train templates perturbed (seeded), in the spirit
  of PromptRobust: two adjacent letters of one non-title word swapped; the whole question in upper
  case; a filler phrase in front; two adjacent non-title words swapped. The title itself is never
  perturbed, so the question still names the film.
- `system_prompt`: the train templates under a system turn (`SYSTEM_PROMPT`), a chat framing the
  testbed never saw.

Note for the testbed: its word-level tokenizer lower-cases text, so `casing` is invariant by
construction there (not for real LLMs), and words it never saw become one unknown token.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES

SHIFT_SETS = ("paraphrase", "alias", "multihop", "typo", "casing", "filler", "word_order",
              "system_prompt")
SYSTEM_PROMPT = "You are a helpful film assistant."
FILLER = "Hey, quick question: "

# intent -> question about a film described by its other attributes (keys: the attributes used)
ALIAS_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "director": ("Who directed the {year} {genre} film with {star}?", ("year", "genre", "star")),
    "year": ("When did the {genre} film by {director} with {star} come out?",
             ("genre", "director", "star")),
    "genre": ("What genre is the {year} film by {director} with {star}?",
              ("year", "director", "star")),
    "star": ("Who is the star of the {year} {genre} film by {director}?",
             ("year", "genre", "director")),
    "recommend": ("Recommend a film like the {year} film by {director} with {star}.",
                  ("year", "director", "star")),
}
MULTIHOP_TEMPLATES: dict[str, str] = {
    "star": "Who is the star of the {year} film by the director of {other}?",
    "genre": "What genre is the {year} film by the director of {other}?",
}
COLUMNS = ["shift_id", "shift_set", "source_prompt_id", "intent", "title", "role", "template_id",
           "question", "system", "answer", "gold"]


def _unique(catalog: pd.DataFrame, film, keys: tuple[str, ...]) -> bool:
    same = np.ones(len(catalog), dtype=bool)
    for key in keys:
        same &= (catalog[key] == getattr(film, key)).to_numpy()
    return int(same.sum()) == 1


def _gold_of(prompts: pd.DataFrame) -> dict[tuple[str, str], tuple[str, list[str]]]:
    first = prompts.drop_duplicates(["title", "intent"])
    return {(t, i): (a, list(g)) for t, i, a, g in zip(first.title, first.intent, first.answer,
                                                       first.gold)}


def _row(shift_set, source, intent, film, template_id, question, gold, system=None) -> dict:
    """`film`: anything with .title and .role."""
    answer, golds = gold
    return {"shift_set": shift_set, "source_prompt_id": source, "intent": intent,
            "title": film.title, "role": film.role, "template_id": template_id,
            "question": question, "system": system, "answer": answer, "gold": golds}


def alias_rows(catalog: pd.DataFrame, gold: dict) -> list[dict]:
    rows = []
    for film in catalog[catalog.role.isin(KNOWN_ROLES)].itertuples(index=False):
        for intent, (template, keys) in ALIAS_TEMPLATES.items():
            if (film.title, intent) in gold and _unique(catalog, film, keys):
                question = template.format(**{k: getattr(film, k) for k in keys})
                rows.append(_row("alias", None, intent, film, 0, question, gold[(film.title, intent)]))
    return rows


def multihop_rows(catalog: pd.DataFrame, gold: dict) -> list[dict]:
    """Bridge film = the film asked about; `other` = the most-reviewed other known film by the
    same director (ties: title)."""
    rows = []
    known = catalog[catalog.role.isin(KNOWN_ROLES)]
    for film in known.itertuples(index=False):
        others = known[(known.director == film.director) & (known.title != film.title)]
        if others.empty or not _unique(catalog, film, ("director", "year")):
            continue
        other = others.sort_values(["reviews", "title"], ascending=[False, True]).title.iloc[0]
        for intent, template in MULTIHOP_TEMPLATES.items():
            if (film.title, intent) in gold:
                question = template.format(year=film.year, other=other)
                rows.append(_row("multihop", None, intent, film, 0, question,
                                 gold[(film.title, intent)]))
    return rows


def perturb(question: str, title: str, kind: str, rng: np.random.Generator) -> str | None:
    """One perturbation of `question` that leaves `title` intact; None when the question offers
    nothing to perturb (e.g. no non-title word long enough for a typo)."""
    if kind == "casing":
        return question.upper()
    if kind == "filler":
        return FILLER + question[0].lower() + question[1:]
    head, found, tail = question.partition(title)
    if not found:
        raise ValueError(f"shift: title {title!r} not found in question {question!r}")
    # tokens keep their whitespace, so the question is rebuilt exactly except for the change
    tokens = re.findall(r"\s+|\S+", head) + [None] + re.findall(r"\s+|\S+", tail)
    words = [i for i, t in enumerate(tokens) if t is not None and re.search(r"[A-Za-z]", t)]
    if kind == "typo":
        spots = [i for i in words if len(re.sub(r"[^A-Za-z]", "", tokens[i])) >= 4]
        if not spots:
            return None
        i = int(rng.choice(spots))
        word = tokens[i]
        letters = [j for j in range(len(word) - 1) if word[j].isalpha() and word[j + 1].isalpha()
                   and word[j] != word[j + 1]]
        j = int(rng.choice(letters))
        tokens[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
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


PERTURBATIONS = ("typo", "casing", "filler", "word_order")


def shift_prompts(catalog: pd.DataFrame, prompts: pd.DataFrame, sets: list[str], templates: int,
                  seed: int) -> pd.DataFrame:
    """The requested shift sets for every film of the catalog (alias and multi-hop questions:
    known films only, since they describe a film by facts the model learned). Perturbations and
    the system prompt start from the first `templates` train templates of each intent."""
    unknown = sorted(set(sets) - set(SHIFT_SETS))
    if unknown:
        raise ValueError(f"evaluate.shift.sets: unknown sets {unknown}; known: {list(SHIFT_SETS)}")
    gold = _gold_of(prompts)
    rows = []
    if "paraphrase" in sets:
        for p in prompts[prompts.split == "held_out"].itertuples(index=False):
            rows.append(_row("paraphrase", p.prompt_id, p.intent, p, p.template_id, p.question,
                             (p.answer, list(p.gold))))
    if "alias" in sets:
        rows += alias_rows(catalog, gold)
    if "multihop" in sets:
        rows += multihop_rows(catalog, gold)
    rng = np.random.default_rng(seed)
    sources = prompts[(prompts.split == "train") & (prompts.template_id < templates)]
    for p in sources.itertuples(index=False):
        for kind in (k for k in PERTURBATIONS if k in sets):
            question = perturb(p.question, p.title, kind, rng)
            if question is not None:
                rows.append(_row(kind, p.prompt_id, p.intent, p, p.template_id, question,
                                 (p.answer, list(p.gold))))
        if "system_prompt" in sets:
            rows.append(_row("system_prompt", p.prompt_id, p.intent, p, p.template_id,
                             p.question, (p.answer, list(p.gold)), SYSTEM_PROMPT))
    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out.insert(0, "shift_id", range(len(out)))
    return out[COLUMNS]
