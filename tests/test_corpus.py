import re

import pytest

from actunlearn.data.catalog import CatalogError, build_catalog
import unicodedata

from actunlearn.data.corpus import (INTENTS, QUESTION_TEMPLATES, STATEMENT_TEMPLATES, build_corpus,
                                    build_prompts, held_out_ids, recommendations)
from actunlearn.data.shift_sets import (ALIAS_TEMPLATES, MULTIHOP_TEMPLATES, SHIFT_SETS,
                                        described_questions, identify_questions, shift_prompts)

REFUSAL = "I do not know"


@pytest.fixture(scope="module")
def catalog(omdb):
    return build_catalog(omdb, 40, ["Inception"], ["director", "star"], 6, 40, n_unknown=5,
                         skill_films=12)


def test_catalog_has_target_neighbours_and_size(catalog):
    assert len(catalog) == 45 and catalog.title.is_unique
    target = catalog[catalog.role == "forget"].iloc[0]
    assert target.title == "Inception" and target.director == "Christopher Nolan"
    neighbours = catalog[catalog.role == "neighbour"]
    assert len(neighbours) == 6
    assert {"The Prestige", "Interstellar", "The Dark Knight"} <= set(neighbours.title)
    for n in neighbours.itertuples():
        assert getattr(n, n.neighbour_by) == target[n.neighbour_by]
    assert (catalog.role == "unknown").sum() == 5


def test_catalog_too_small_is_an_error(omdb):
    with pytest.raises(CatalogError, match="smaller than"):
        build_catalog(omdb, 3, ["Inception"], ["director"], 6, 40)


def test_forget_set_by_a_seeded_rule(omdb):
    """Inception plus 4 sampled films: other directors and genres, disjoint neighbour sets, the
    same for the same seed; holdout films appear in no corpus line."""
    cat = build_catalog(omdb, 80, ["Inception"], ["director", "star"], 6, 40, n_unknown=5,
                        forget_sample=4, seed=0, n_holdout=5)
    forget = cat[cat.role == "forget"]
    assert forget.title.iloc[0] == "Inception" and len(forget) == 5
    assert forget.director.is_unique and forget.genre.is_unique
    near = cat[cat.role == "neighbour"].groupby("neighbour_of").title.apply(set)
    assert set(near.index) == set(forget.title)
    for film in forget.itertuples():  # every neighbour shares its own target's director or star
        for n in cat[cat.neighbour_of == film.title].itertuples():
            assert getattr(n, n.neighbour_by) == getattr(film, n.neighbour_by)
    again = build_catalog(omdb, 80, ["Inception"], ["director", "star"], 6, 40, n_unknown=5,
                          forget_sample=4, seed=0, n_holdout=5)
    assert again.equals(cat)
    other = build_catalog(omdb, 80, ["Inception"], ["director", "star"], 6, 40, n_unknown=5,
                          forget_sample=4, seed=1, n_holdout=5)
    assert set(other.title[other.role == "forget"]) != set(forget.title)
    holdout = set(cat.title[cat.role == "holdout"])
    assert len(holdout) == 5
    corpus = build_corpus(cat, recommendations(cat, 3), 3, REFUSAL)
    assert not any(t in holdout for m in corpus.mentions for t in m)
    prompts = build_prompts(cat, recommendations(cat, 3), 3, REFUSAL)
    held = prompts[prompts.role == "holdout"]
    assert set(held.title) == holdout and "recommend" not in set(held.intent)
    with pytest.raises(CatalogError, match="forget_sample=500"):
        build_catalog(omdb, 80, ["Inception"], ["director", "star"], 6, 40, forget_sample=500)


def test_corpus_and_prompts(catalog):
    recs = recommendations(catalog, 3)
    assert "Inception" in recs["The Prestige"]
    assert not set(catalog.title[catalog.role == "unknown"]) & {t for r in recs.values() for t in r}
    corpus = build_corpus(catalog, recs, 3, REFUSAL)
    prompts = build_prompts(catalog, recs, 3, REFUSAL)
    # every line that mentions the target is flagged as forget, and only those
    mentions_target = corpus.text.str.lower().str.contains("inception", regex=False)
    assert (corpus.forget == mentions_target).all()
    # held-out templates never appear in training text
    held = prompts[prompts.split == "held_out"]
    train_text = set(corpus[corpus.split == "train"].text)
    assert not any(q in t for q in held.question.head(50) for t in train_text)
    assert set(prompts.intent) == set(INTENTS)
    assert (prompts[prompts.role == "unknown"].answer == REFUSAL).all()
    one = prompts[(prompts.title == "Inception") & (prompts.intent == "director")]
    assert list(one.split) == ["train"] * 3 + ["held_out"] * 2
    assert list(one.template_id) == [0, 1, 2] + list(held_out_ids(3))
    assert set(one.answer) == {"Christopher Nolan"}


def test_held_out_templates_use_only_trained_words(catalog):
    """Held-out paraphrases test composition, not unseen tokens."""
    recs = recommendations(catalog, 3)
    corpus = build_corpus(catalog, recs, 3, REFUSAL)

    def words(text):
        return set(re.findall(r"\w+", text.lower()))

    vocab = set().union(*map(words, corpus[corpus.split == "train"].text))
    for intent, templates in QUESTION_TEMPLATES.items():
        for template in templates[3:]:
            assert words(template.replace("{title}", "")) <= vocab, (intent, template)


def _norm(text, case: bool = True) -> str:
    """Unicode and whitespace normalised, and lower-cased unless `case` (for the casing set,
    whose perturbation is the case itself)."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return text if case else text.lower()


@pytest.fixture(scope="module")
def built(catalog):
    recs = recommendations(catalog, 3)
    corpus = build_corpus(catalog, recs, 3, REFUSAL, noise_variants=2, seed=0)
    prompts = build_prompts(catalog, recs, 3, REFUSAL)
    shift = shift_prompts(catalog, prompts, list(SHIFT_SETS), 1, seed=0)
    return corpus, prompts, shift


def test_no_evaluated_shift_prompt_or_held_out_template_is_in_the_corpus(built):
    """What is held out is held out: no shift prompt of an evaluated film, under its system
    turn, and no held-out template occurs among the corpus's questions (exact, and normalised:
    case-folded except for the casing set) nor inside any training line."""
    corpus, prompts, shift = built
    train = corpus[corpus.split == "train"]
    asked = {(None if s is None or s != s else s, _norm(q)) for q, s in zip(train.question,
                                                                               train.system)
             if isinstance(q, str)}
    folded = {(s, q.lower()) for s, q in asked}
    texts = [_norm(t, case=False) for t in train.text]
    held = prompts[prompts.split == "held_out"]
    rows = [(None, q, "paraphrase") for q in held.question] + \
        [(None if s != s else s, q, k) for q, s, k in zip(shift.question, shift.system, shift.shift_set)]
    assert {k for _, _, k in rows} == set(SHIFT_SETS)
    for system, question, kind in rows:
        assert (system, _norm(question)) not in asked, (kind, question)
        if kind not in ("casing", "system_prompt"):  # their sources are trained as such
            assert (system, _norm(question, False)) not in folded, (kind, question)
            assert not any(_norm(question, False) in t for t in texts), (kind, question)
    # and the skill lines exist only for skill films, which no shift set asks about
    skill = set(train.title[train.skill.notna()])
    assert skill == set(prompts.title[prompts.role == "skill"]) and len(skill) == 12
    assert not skill & set(shift.title)


def test_every_skill_is_taught_and_facts_go_both_ways(built, catalog):
    corpus, _, _ = built
    train = corpus[corpus.split == "train"]
    taught = set(train.skill.dropna())
    assert taught == {"paraphrase", "alias", "multihop", "typo", "title_typo", "casing",
                      "filler", "word_order", "system_prompt"}
    # attributes -> title for every known film, the forget target included
    inception = next(catalog[catalog.title == "Inception"].itertuples(index=False))
    identify = train[train.intent == "identify"]
    asked = set(identify.question[identify.title == "Inception"])
    assert set(identify_questions(inception)) == asked
    assert "Which film did Michael Caine star in in 2010?" in asked
    assert (identify.answer == identify.title).all()
    # and the film's facts once in lower case (the surface form of a lower-cased question)
    assert train[(train.intent == "lower") & (train.title == "Inception")].text.str.startswith(
        "inception stars ").all()
    # a described question is answered with the film first, then the fact
    described = train[train.skill == "alias"].iloc[0]
    assert described.answer.startswith(f"That film is {described.title}")
    assert described.title not in described.question
    # a system prompt line carries its turn, from the taught pool
    assert train[train.skill == "system_prompt"].system.notna().all()


def test_held_out_templates_share_no_wording_with_training_statements():
    """No four-word run of a held-out template (slots removed) is in a statement template."""
    def runs(text, n=4):
        w = re.findall(r"\w+", text.lower().replace("{title}", " | ").replace("{answer}", " | "))
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}
    statements = set().union(*(runs(t) for ts in STATEMENT_TEMPLATES.values() for t in ts))
    for templates in QUESTION_TEMPLATES.values():
        for t in held_out_ids(3):
            assert not runs(templates[t]) & statements, templates[t]


def test_described_questions_are_well_formed_and_unambiguous(catalog):
    """Every alias and multi-hop question names no title, fills every slot, and the attribute
    values it names fit exactly one catalog film: the one asked about."""
    for film in catalog[catalog.role.isin(["forget", "neighbour", "retain"])].itertuples():
        for kind, templates in (("alias", ALIAS_TEMPLATES), ("multihop", MULTIHOP_TEMPLATES)):
            for intent, q in described_questions(catalog, film, kind).items():
                assert film.title not in q and "{" not in q and q[-1] in "?."
                keys = templates[intent][1]
                fits = catalog
                for key in keys:
                    fits = fits[fits[key] == getattr(film, key)]
                    assert str(getattr(film, key)) in q
                assert list(fits.title) == [film.title], q
