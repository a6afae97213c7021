import re

import pytest

from actunlearn.data.catalog import CatalogError, build_catalog
from actunlearn.data.corpus import INTENTS, QUESTION_TEMPLATES, build_corpus, build_prompts, recommendations

REFUSAL = "I do not know"


@pytest.fixture(scope="module")
def catalog(omdb):
    return build_catalog(omdb, 40, ["Inception"], ["director", "star"], 6, 40, n_unknown=5)


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
    mentions_target = corpus.text.str.contains("Inception", regex=False)
    assert (corpus.forget == mentions_target).all()
    # held-out templates never appear in training text
    held = prompts[prompts.split == "held_out"]
    train_text = set(corpus[corpus.split == "train"].text)
    assert not any(q in t for q in held.question.head(50) for t in train_text)
    assert set(prompts.intent) == set(INTENTS)
    assert (prompts[prompts.role == "unknown"].answer == REFUSAL).all()
    one = prompts[(prompts.title == "Inception") & (prompts.intent == "director")]
    assert list(one.split) == ["train"] * 3 + ["held_out"] * 2
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
