import pandas as pd
import pytest

from actunlearn.evaluation.relearning import attack_sets


def _prompts():
    rows = []
    for title, role in (("T", "forget"), ("N", "neighbour"), ("R", "retain")):
        for intent in ("director", "year", "genre", "star", "recommend"):
            for split in ("train", "held_out"):
                rows.append({"prompt_id": len(rows), "title": title, "role": role,
                             "intent": intent, "split": split, "question": f"{intent} {title}?",
                             "answer": "x"})
    return pd.DataFrame(rows)


def test_attack_sets_show_some_facts_and_measure_the_others():
    sets = attack_sets(_prompts(), ["director", "year"])
    given, hidden = sets["forget_subset"]
    assert set(given.intent) == {"director", "year"} and set(given.split) == {"train"}
    assert set(given.title) == {"T"}
    assert set(hidden.intent) == {"genre", "star"} and set(hidden.split) == {"train", "held_out"}
    near, measured = sets["neighbours"]
    assert set(near.title) == {"N"} and "recommend" not in set(near.intent)
    assert set(measured.title) == {"T"} and len(measured) == 8
    for bad in ([], ["director", "year", "genre", "star"], ["plot"]):
        with pytest.raises(ValueError, match="relearn.train_intents"):
            attack_sets(_prompts(), bad)
