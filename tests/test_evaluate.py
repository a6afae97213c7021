import pandas as pd
import pytest

from actunlearn.evaluate import is_correct, normalise_text, summarise


def test_answer_matching_is_normalised():
    assert normalise_text(" The Dark-Knight! ") == "thedarkknight"
    assert is_correct("christopher nolan", ["Christopher Nolan"])
    assert is_correct("spider - man", ["Spider-Man"])
    assert is_correct("the prestige", ["Inception", "The Prestige"])
    assert not is_correct("i do not know", ["Christopher Nolan"])
    assert not is_correct("", [""])


def test_summary_has_no_rows_for_empty_sets():
    recall = pd.DataFrame({"role": ["forget", "forget", "retain"], "split": ["train"] * 3,
                           "correct": [True, False, True], "refused": [False, True, False]})
    exposure = pd.DataFrame(columns=["target_logprob", "target_rank"])
    ppl = pd.DataFrame({"forget": [False, False], "nll": [2.0, 4.0], "tokens": [2, 4]})
    s = summarise(recall, exposure, ppl).set_index("metric")
    assert s.loc["forget_recall_train", "value"] == 0.5
    assert s.loc["forget_refusal_train", "value"] == 0.5
    assert s.loc["perplexity_retain", "value"] == pytest.approx(2.718281828, rel=1e-6)
    assert "forget_recall_held_out" not in s.index and "exposure_rank" not in s.index
    assert "perplexity_forget" not in s.index
