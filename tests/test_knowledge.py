import pandas as pd
import pytest

from actunlearn.evaluation import knowledge
from actunlearn.evaluation.knowledge import checked_prompts, fact_table, knowledge_summary, known_prompts


def _prompts():
    rows, pid = [], 0
    for title, role in (("Inception", "forget"), ("Memento", "neighbour"), ("Alien", "retain"),
                        ("Heat", "retain"), ("Nobody", "unknown"), ("Ghost", "unknown")):
        for intent, answer in (("director", "D"), ("year", "2000")):
            for template, split in ((0, "train"), (1, "train"), (2, "held_out")):
                rows.append({"prompt_id": pid, "title": title, "role": role, "intent": intent,
                             "template_id": template, "split": split,
                             "question": f"{intent} of {title}? ({template})", "answer": answer,
                             "gold": [answer]})
                pid += 1
    return pd.DataFrame(rows)


def _answers(asked, correct):
    out = asked.copy()
    out["correct"] = [correct(r) for r in out.itertuples()]
    out["response"] = ["an answer"] * len(out)
    return out


def test_fact_table_and_known_prompts():
    prompts = _prompts()
    asked = checked_prompts(prompts, "all", 0)
    assert set(asked.split) == {"train"} and "unknown" not in set(asked.role)
    # Inception: both facts on both templates; Memento: director on one of two templates;
    # Alien: year never; Heat: nothing
    right = {("Inception", "director"): 2, ("Inception", "year"): 2, ("Memento", "director"): 1,
             ("Memento", "year"): 0, ("Alien", "director"): 2}
    answers = _answers(asked, lambda r: r.template_id < right.get((r.title, r.intent), 0))
    facts = fact_table(answers, min_share=0.5).set_index(["title", "intent"])
    assert facts.loc[("Memento", "director"), "share"] == 0.5
    assert facts.loc[("Memento", "director"), "known"]
    assert not facts.loc[("Memento", "year"), "known"] and not facts.loc[("Heat", "year"), "known"]
    strict = fact_table(answers, min_share=1.0).set_index(["title", "intent"])
    assert not strict.loc[("Memento", "director"), "known"]

    kept = known_prompts(prompts, facts.reset_index())
    # every template (held-out included) of a known fact, none of an unknown fact
    assert len(kept[(kept.title == "Inception")]) == 6
    assert set(kept[kept.title == "Memento"].intent) == {"director"}
    assert "Heat" not in set(kept.title)
    # the refusal set: all unknown films, a seeded sample, or none
    assert set(kept[kept.role == "unknown"].title) == {"Nobody", "Ghost"}
    one = known_prompts(prompts, facts.reset_index(), unknown_films=1, seed=3)
    assert len(set(one[one.role == "unknown"].title)) == 1
    assert (known_prompts(prompts, facts.reset_index(), 0).role != "unknown").all()
    with pytest.raises(ValueError, match="knowledge.unknown_films=5"):
        known_prompts(prompts, facts.reset_index(), unknown_films=5)

    summary = knowledge_summary(facts.reset_index()).set_index("role")
    assert summary.loc["forget", "known"] == 2 and summary.loc["retain", "share"] == 0.25


def test_checked_retain_sample_is_seeded_and_bounded():
    prompts = _prompts()
    a, b = checked_prompts(prompts, 1, 7), checked_prompts(prompts, 1, 7)
    assert a.equals(b) and len(set(a[a.role == "retain"].title)) == 1
    assert {"Inception", "Memento"} <= set(a.title)
    with pytest.raises(ValueError, match="knowledge.retain_films=3"):
        checked_prompts(prompts, 3, 0)
    years = checked_prompts(prompts, "all", 0, ["year"])
    assert set(years.intent) == {"year"} and len(years) == 8
    with pytest.raises(ValueError, match=r"knowledge.intents: \['plot'\]"):
        checked_prompts(prompts, "all", 0, ["plot"])


def test_a_model_that_knows_no_forget_fact_is_an_error(monkeypatch):
    def answer_nothing(model, tokenizer, frame, refusal, batch_size, max_new_tokens, device, titles=()):
        return _answers(frame, lambda r: r.role != "forget")
    monkeypatch.setattr(knowledge, "answer_prompts", answer_nothing)
    with pytest.raises(ValueError, match="knows none of the forget targets' facts"):
        knowledge.check_knowledge(None, None, _prompts(), "I do not know",
                                  {"retain_films": "all", "unknown_films": "all",
                                   "intents": "all", "min_share": 0.5}, 8, 8, 0)


def test_unlearning_can_keep_the_models_own_answers(tokenizer):
    """retain_data: own_answers: the retain lines are the base model's answers about other
    films (neighbours apart), not the corpus a pretrained model never saw."""
    from actunlearn.models.encoding import qa_example
    from actunlearn.unlearning.data import build_unlearn_data
    prompts = pd.DataFrame({
        "title": ["Inception", "Memento", "Alien"], "role": ["forget", "neighbour", "retain"],
        "intent": ["director"] * 3, "split": ["train"] * 3, "template_id": [0] * 3,
        "question": ["Who directed Inception?", "What genre is Memento?", "Who directed Alien?"],
        "answer": ["Christopher Nolan", "Thriller", "Ridley Scott"],
        "gold": [["Christopher Nolan"], ["Thriller"], ["Ridley Scott"]]})
    corpus = pd.DataFrame({"split": ["train"], "forget": [False], "title": ["Alien"], "kind": ["text"],
                           "question": [None], "answer": [None], "text": ["Inception was released in 2010."]})
    own = prompts.assign(response=["Nolan", "A thriller", "I do not know"])
    data = build_unlearn_data(tokenizer, prompts, corpus, "I do not know", own_answers=own)
    assert data.neighbours == [qa_example(tokenizer, "What genre is Memento?", "A thriller")]
    assert data.retain == [qa_example(tokenizer, "Who directed Alien?", "I do not know")]
    assert data.refuse == [qa_example(tokenizer, "Who directed Inception?", "I do not know")]
    from_corpus = build_unlearn_data(tokenizer, prompts, corpus, "I do not know")
    assert from_corpus.retain != data.retain and len(from_corpus.retain) == 1
    with pytest.raises(ValueError, match="no neighbour or retain answers"):
        build_unlearn_data(tokenizer, prompts, corpus, "I do not know",
                           own_answers=own[own.role == "forget"])
