import numpy as np
import pandas as pd
import pytest

from actunlearn.data.shift_sets import (SYSTEM_ROLES, filler_pool, perturb, shift_prompts,
                                        system_pool)
from actunlearn.evaluation import answers as evaluate
from actunlearn.evaluation.answers import answer_prompts, shift_summary
from actunlearn.models.encoding import prompt_ids

SYSTEM_PROMPT = SYSTEM_ROLES[-1]

CATALOG = pd.DataFrame({
    "title": ["Inception", "The Prestige", "Memento", "Heat", "Nowhere"],
    "year": [2010, 2006, 2000, 1995, 2001],
    "director": ["Christopher Nolan", "Christopher Nolan", "Christopher Nolan", "Michael Mann", "X"],
    "genre": ["Sci-Fi", "Drama", "Thriller", "Crime", "Drama"],
    "star": ["Michael Caine", "Michael Caine", "Guy Pearce", "Al Pacino", "Y"],
    "reviews": [300, 250, 200, 150, 10],
    "role": ["forget", "neighbour", "neighbour", "retain", "unknown"],
})


def _prompts():
    rows = []
    for film in CATALOG.itertuples(index=False):
        for intent, answer in (("director", film.director), ("star", film.star),
                               ("genre", film.genre), ("year", str(film.year))):
            for t, template in enumerate(["Who knows {title} well?", "Tell me about {title} now?"]):
                rows.append({"prompt_id": len(rows), "title": film.title, "role": film.role,
                             "intent": intent, "template_id": t,
                             "split": "train" if t == 0 else "held_out",
                             "question": template.format(title=film.title), "answer": answer,
                             "gold": [answer]})
    return pd.DataFrame(rows)


def test_perturbations_keep_the_title_and_change_only_what_they_say():
    rng = np.random.default_rng(0)
    q, title = "Who is the director of The Dark Knight?", "The Dark Knight"
    for _ in range(20):  # one edit in one non-title word: the other words are untouched
        typo = perturb(q, title, "typo", rng)
        assert typo.endswith(" The Dark Knight?") and typo != q
        changed = [(a, b) for a, b in zip(typo.split(), q.split()) if a != b]
        assert len(typo.split()) == len(q.split()) and len(changed) == 1
        assert abs(len(changed[0][0]) - len(changed[0][1])) <= 1
        inside = perturb(q, title, "title_typo", rng)
        assert inside.startswith("Who is the director of ") and title not in inside
        assert abs(len(inside) - len(q)) <= 1
    order = perturb(q, title, "word_order", rng)
    assert title in order and sorted(order.split()) == sorted(q.split()) and order != q
    assert perturb(q, title, "casing", rng) == q.lower()
    filled = perturb(q, title, "filler", rng)
    assert "he director of The Dark Knight" in filled and len(filled) > len(q)
    assert perturb("Inception?", "Inception", "typo", rng) is None  # nothing but the title
    assert perturb("Who directed Up?", "Up", "title_typo", rng) is None  # too short
    with pytest.raises(ValueError, match="not found"):
        perturb("Who directed Heat?", "Inception", "typo", rng)


def test_alias_and_multihop_questions_name_no_title_and_are_unambiguous():
    shift = shift_prompts(CATALOG, _prompts(), ["alias", "multihop"], 1, seed=0)
    for row in shift.itertuples():
        assert row.title not in row.question  # the film asked about is never named
    alias = shift[shift.shift_set == "alias"].set_index(["title", "intent"])
    assert alias.loc[("Inception", "director"), "question"] == \
        "Who directed the 2010 Sci-Fi film with Michael Caine?"
    assert alias.loc[("Inception", "director"), "answer"] == "Christopher Nolan"
    assert "Nowhere" not in set(shift.title)  # unknown films are never described
    hop = shift[shift.shift_set == "multihop"].set_index(["title", "intent"])
    # the path goes through the bridge film: (Michael Caine, 2010) -> Inception -> its director
    assert hop.loc[("Inception", "director"), "question"] == \
        "Who directed the film that Michael Caine starred in in 2010?"
    assert hop.loc[("Inception", "star"), "question"] == \
        "Who starred in the film that Christopher Nolan directed in 2010?"
    assert hop.loc[("Inception", "star"), "answer"] == "Michael Caine"
    assert (shift.bridge == shift.title).all()


def test_ambiguous_descriptions_are_skipped():
    twin = CATALOG.copy()
    twin.loc[len(twin)] = ["Twin", 2010, "Christopher Nolan", "Sci-Fi", "Michael Caine", 5,
                           "skill"]
    shift = shift_prompts(twin, _prompts(), ["alias", "multihop"], 1, seed=0)
    assert not ((shift.title == "Inception") & (shift.shift_set == "multihop")).any()
    assert "Twin" not in set(shift.title)  # a skill film is never asked
    assert ("Inception", "director") not in set(zip(shift.title[shift.shift_set == "alias"],
                                                    shift.intent[shift.shift_set == "alias"]))


def test_perturbation_sets_start_from_train_templates_and_are_seeded():
    sets = ["typo", "title_typo", "casing", "filler", "word_order", "system_prompt"]
    a = shift_prompts(CATALOG, _prompts(), sets, 1, seed=0)
    assert a.equals(shift_prompts(CATALOG, _prompts(), sets, 1, seed=0))
    assert set(a.template_id) == {0} and set(a.shift_set) == set(sets)
    # fillers and system prompts from the held-out halves of their pools only
    held = set(a[a.shift_set == "system_prompt"].system)
    assert held <= set(system_pool(True)) and not held & set(system_pool(False))
    # no held-out prompt shares a sentence with a taught one
    taught = {x for p in system_pool(False) for x in p.split(". ")}
    assert not any(x in taught for p in system_pool(True) for x in p.split(". "))
    taught_fillers = {x for pair in filler_pool(False) for x in pair if x}
    for q in a[a.shift_set == "filler"].question:
        assert not any(q.startswith(x) or q.endswith(x) for x in taught_fillers), q
    assert a[a.shift_set != "system_prompt"].system.isna().all()
    with pytest.raises(ValueError, match="unknown sets"):
        shift_prompts(CATALOG, _prompts(), ["typos"], 1, seed=0)


def test_system_turn_changes_the_prompt_and_answers_are_scored(tiny_model, tokenizer):
    plain = prompt_ids(tokenizer, "Who directed Inception?")
    framed = prompt_ids(tokenizer, "Who directed Inception?", SYSTEM_PROMPT)
    assert len(framed) > len(plain) and framed[-len(plain):] == plain
    frame = pd.DataFrame({"question": ["Who directed Inception?"] * 2,
                          "system": [None, SYSTEM_PROMPT], "gold": [["nolan"]] * 2,
                          "shift_set": ["typo", "system_prompt"], "role": ["forget"] * 2})
    out = answer_prompts(tiny_model, tokenizer, frame, "i do not know", 1, 3)
    assert len(out) == 2 and out.response.map(type).eq(str).all()
    assert out.correct.dtype == bool and out.refused.dtype == bool


def test_missing_system_turn_read_from_parquet_adds_no_system_turn(tokenizer, tmp_path,
                                                                   monkeypatch):
    """Regression: a missing system prompt reads back from Parquet as NaN, which once rendered as
    a system turn with the text "nan" in front of every non-system shift prompt."""
    frame = pd.DataFrame({"question": ["Who directed Inception?", "When was Heat released?"],
                          "system": [None, SYSTEM_PROMPT], "gold": [["nolan"], ["1995"]]})
    frame.to_parquet(tmp_path / "shift.parquet")
    read = pd.read_parquet(tmp_path / "shift.parquet")
    assert pd.isna(read.system[0])
    seen = []

    def record(model, tok, questions, max_new_tokens, device, systems=None, histories=None,
               prefixes=None):
        seen.extend(systems)
        assert histories == [(), ()] and prefixes == [None, None]
        return ["x"] * len(questions), None
    monkeypatch.setattr(evaluate, "greedy_generate", record)
    answer_prompts(None, tokenizer, read, "i do not know", 2, 4)
    assert seen == [None, SYSTEM_PROMPT]
    with pytest.raises(TypeError, match="system prompt must be a string or None"):
        prompt_ids(tokenizer, "Who directed Inception?", float("nan"))


def test_shift_summary_has_reference_sets_and_no_empty_groups():
    recall = pd.DataFrame({"split": ["train", "held_out", "train"], "role": ["forget"] * 3,
                           "correct": [True, False, False], "refused": [False, True, True]})
    shift = pd.DataFrame({"shift_set": ["typo", "typo"], "role": ["forget", "retain"],
                          "correct": [True, True], "refused": [False, False]})
    s = shift_summary(shift, recall).set_index(["shift_set", "role", "metric"]).value
    assert s[("original", "forget", "recall")] == 0.5
    assert s[("paraphrase", "forget", "refusal")] == 1.0
    assert s[("typo", "retain", "recall")] == 1.0
    assert ("paraphrase", "retain", "recall") not in s.index


def test_bridged_rows_get_the_longer_answers_and_a_bridge_column(monkeypatch, tokenizer):
    """Alias and multi-hop rows are answered with the second answer length and scored for
    naming their bridge film; the summary reports it beside recall, for those sets only."""
    lengths = []

    def fake(model, tok, questions, max_new_tokens, device, systems=None, histories=None,
             prefixes=None):
        lengths.append(max_new_tokens)
        return ["That film is Inception, directed by Christopher Nolan"] * len(questions), None
    monkeypatch.setattr(evaluate, "greedy_generate", fake)
    frame = pd.DataFrame({"shift_set": ["typo", "alias", "alias"], "role": ["forget"] * 3,
                          "question": ["q1", "q2", "q3"], "system": [None] * 3,
                          "gold": [["Christopher Nolan"], ["Christopher Nolan"], ["2010"]],
                          "bridge": [None, "Inception", "Memento"]}, index=[7, 8, 9])
    out = evaluate.shift_answers(None, tokenizer, frame, "I do not know", 8, (4, 24),
                                 titles=["Inception", "Memento"])
    assert lengths == [4, 24] and list(out.index) == [7, 8, 9]
    assert out.bridge_named.tolist() == [None, True, False]
    assert out.correct.tolist() == [True, True, False]
    recall = pd.DataFrame({"split": ["train"], "role": ["forget"], "correct": [True],
                           "refused": [False]})
    s = shift_summary(out, recall).set_index(["shift_set", "role", "metric"]).value
    assert s[("alias", "forget", "bridge")] == 0.5
    assert ("typo", "forget", "bridge") not in s.index
