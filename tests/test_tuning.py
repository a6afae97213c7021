"""Tuning: validation films disjoint from every test film, one search size, one criterion."""

import json

import pandas as pd
import pytest

from actunlearn.data.catalog import _assign_stars, _neighbour_pool, build_catalog
from actunlearn.data.corpus import build_corpus, build_prompts, recommendations
from actunlearn.tuning.search import (TuningError, check_spaces, committed_trials, select,
                                      selection_outputs, settings_grid, tuned_overlay)
from actunlearn.tuning.validation import (check_disjoint, tested_titles, tuning_prompts,
                                          validation_view)

REFUSAL = "I do not know"


@pytest.fixture(scope="module")
def catalog(omdb):
    return build_catalog(omdb, 80, ["Inception"], ["director", "star"], 4, 40, n_unknown=5,
                         forget_sample=2, seed=0, n_holdout=5, validation=3,
                         validation_neighbours=2)


@pytest.fixture(scope="module")
def tables(catalog):
    recs = recommendations(catalog, 3)
    corpus = build_corpus(catalog, recs, 3, REFUSAL)
    prompts = build_prompts(catalog, recs, 3, REFUSAL)
    answers = prompts[prompts.split == "train"].assign(response=prompts.answer, correct=True)
    return corpus, prompts, answers


def test_validation_films_are_disjoint_from_every_test_film_and_its_whole_neighbour_pool(omdb,
                                                                                        catalog):
    held = catalog[catalog.role == "val_forget"]
    assert len(held) == 3 and (catalog.role == "val_neighbour").sum() == 6
    forget = catalog[catalog.role == "forget"]
    pool = omdb[omdb.reviews >= 40].copy()
    pool["star"] = _assign_stars(pool)
    pool = pool.set_index("title", drop=False)
    test = tested_titles(catalog)
    for film in held.itertuples():
        # neither the film nor anything that shares its director or star is a test film
        assert not ({film.title} | _neighbour_pool(pool, film.title, ["director", "star"])) & test
        assert film.director not in set(forget.director) and film.genre not in set(forget.genre)
    for n in catalog[catalog.role == "val_neighbour"].itertuples():
        assert n.neighbour_of in set(held.title)
    # the forget set is what it was without validation films: its seeded draw is untouched
    plain = build_catalog(omdb, 80, ["Inception"], ["director", "star"], 4, 40, n_unknown=5,
                          forget_sample=2, seed=0, n_holdout=5)
    assert list(plain.title[plain.role == "forget"]) == list(forget.title)
    again = build_catalog(omdb, 80, ["Inception"], ["director", "star"], 4, 40, n_unknown=5,
                          forget_sample=2, seed=0, n_holdout=5, validation=3,
                          validation_neighbours=2)
    pd.testing.assert_frame_equal(again, catalog)


def test_the_view_holds_no_test_fact_and_plays_the_validation_films_as_the_forget_set(catalog,
                                                                                      tables):
    corpus, prompts, answers = tables
    view = validation_view(catalog, corpus, prompts, prompts, answers)
    test = tested_titles(catalog)
    held = set(catalog.title[catalog.role == "val_forget"])
    check_disjoint(catalog, {k: v for k, v in view.items() if k not in ("catalog", "reference_corpus")})
    assert set(view["known"].title[view["known"].role == "forget"]) == held
    assert not set(view["prompts"].title) & test
    assert not {t for m in view["corpus"].mentions for t in m} & test
    # the corpus marks the validation films' lines; the reference corpus is the whole corpus
    assert set(view["corpus"][view["corpus"].forget].mentions.apply(lambda m: bool(set(m) & held)))\
        == {True}
    assert len(view["reference_corpus"]) == len(corpus)
    assert view["reference_corpus"].forget.sum() == view["corpus"].forget.sum()
    # the check catches a test fact slipped in, by the entity matcher on free text too
    target = sorted(test)[0]
    leaked = view["corpus"].head(1).assign(text=f"I liked {target} a lot.", mentions=[[]])
    with pytest.raises(AssertionError, match="mentions test films"):
        check_disjoint(catalog, {"corpus": pd.concat([view["corpus"], leaked])})
    with pytest.raises(AssertionError, match="mentions test films"):
        check_disjoint(view["catalog"], {"manifest": pd.DataFrame({"text": [f"Who directed {target}?"]})})


def test_tuning_prompts_skip_the_retain_films_the_study_evaluates(catalog, tables):
    corpus, prompts, answers = tables
    view = validation_view(catalog, corpus, prompts, prompts, answers)
    study = {"retain_films": 10, "shift_retain_films": 4}
    asked = tuning_prompts(view["known"], prompts, 5, study, 0)
    from actunlearn.data.corpus import evaluation_prompts
    evaluated = set(evaluation_prompts(prompts, 10, 0, 0).title) | \
        set(evaluation_prompts(prompts, 4, 0, 0, ("a", "b")).title)
    retain = set(asked.title[asked.role == "retain"])
    assert len(retain) == 5 and not retain & evaluated
    assert set(asked.role) == {"forget", "neighbour", "retain"}
    with pytest.raises(ValueError, match="tuning.retain_films"):
        tuning_prompts(view["known"], prompts, 1000, study, 0)


def test_grid_and_spaces_are_checked_by_name():
    assert settings_grid({"a": [1, 2], "b": ["x", "y", "z"]})[:2] == [{"a": 1, "b": "x"},
                                                                       {"a": 1, "b": "y"}]
    methods = {"m": {"handler": "m", "learning_rate": 1, "top_k": 2}, "n": {"handler": "n",
                                                                           "learning_rate": 1}}
    tuning = {"spaces": {"m": {"learning_rate": [1, 2]}, "n": {"learning_rate": [1, 2]}},
              "follow": {"c": "m"}, "max_settings": 2}
    check_spaces(tuning, ["m", "n", "c"], methods)
    bad = [({"spaces": {"m": {"learning_rate": [1, 2]}, "n": {"learning_rate": [1]}}},
            "same number of settings"),
           ({"spaces": {"m": {"lr": [1, 2]}, "n": {"learning_rate": [1, 2]}}}, r"\['lr'\]"),
           ({"spaces": {"m": {"learning_rate": [1, 2, 3]}, "n": {"learning_rate": [1, 2, 3]}}},
            "max_settings"),
           ({"spaces": {"m": {"learning_rate": [1, 2]}}}, "method n of unlearn.run has no search"),
           ({"follow": {"c": "x"}}, "tuning.follow.c")]
    for change, message in bad:
        with pytest.raises(TuningError, match=message):
            check_spaces(tuning | change, ["m", "n", "c"], methods)


def _trials(rows):
    return pd.DataFrame([dict(method=m, setting=i, seed=0, settings=json.dumps({"lr": i}),
                              forget_held_out=f, neighbour_held_out=u, retain_held_out=u)
                         for m, i, f, u in rows])


def test_the_criterion_takes_the_best_utility_under_the_threshold_or_flags_the_lowest_forget():
    trials = _trials([("a", 0, 0.02, 0.5), ("a", 1, 0.06, 0.9), ("a", 2, 0.04, 0.8),
                      ("b", 0, 0.5, 0.9), ("b", 1, 0.3, 0.2)])
    picked = select(trials, reference=0.0, margin=0.05).set_index(["method", "setting"])
    assert picked.chosen[picked.chosen].index.tolist() == [("a", 2), ("b", 1)]
    assert picked.loc[("a", 2), "qualified"] is True and picked.loc[("b", 1), "qualified"] is False
    # a reference raises the threshold: setting 1 of a now qualifies and wins on utility
    picked = select(trials, reference=0.02, margin=0.05).set_index(["method", "setting"])
    assert picked.loc[("a", 1), "chosen"] and picked.loc[("a", 1), "threshold"] == pytest.approx(0.07)
    overlay = tuned_overlay(select(trials, 0.0, 0.05), {"c": "a"}, ["a", "b", "c"])
    assert overlay == {"unlearn": {"methods": {"a": {"lr": 2}, "b": {"lr": 1}, "c": {"lr": 2}}}}


def test_selection_outputs_carry_the_controls_and_an_overlay_the_config_reads(tmp_path):
    import yaml

    trials = _trials([("a", 0, 0.0, 0.5), ("a", 1, 0.0, 0.7)])
    reference = pd.DataFrame([{"checkpoint": "base", "forget_held_out": 0.9,
                               "neighbour_held_out": 0.9, "retain_held_out": 0.9},
                              {"checkpoint": "retain_ref", "forget_held_out": 0.01,
                               "neighbour_held_out": 0.8, "retain_held_out": 0.9}])
    table, text = selection_outputs(trials, reference, 0.05, {}, ["a"], {"a": {"lr": [0, 1]}}, "m")
    assert table.method.tolist()[:2] == ["base", "retain_ref"]
    assert yaml.safe_load(text) == {"unlearn": {"methods": {"a": {"lr": 1}}}}
    assert "0.01 + 0.05 = 0.06" in text
    path = tmp_path / "m.trials.csv"
    table.to_csv(path, index=False)
    record = committed_trials(str(path))
    assert record.chosen.fillna(False).astype(bool).sum() == 1 and record.note.isna().all()
    absent = committed_trials(str(tmp_path / "none.csv"))
    assert len(absent) == 1 and absent.note.iloc[0].startswith("not tuned")
