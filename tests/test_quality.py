import numpy as np
import pandas as pd
import pytest

from actunlearn.quality import fact_questions, fact_samples, membership_auc, quality_summary

CATALOG = pd.DataFrame({"title": ["Inception", "Heat", "Nowhere"], "year": [2010, 1995, 2001],
                        "director": ["Christopher Nolan", "Michael Mann", "X Y"],
                        "genre": ["Sci-Fi", "Crime", "Drama"], "star": ["A", "B", "C"],
                        "role": ["forget", "retain", "unknown"]})


def _prompts():
    rows = []
    for film in CATALOG.itertuples(index=False):
        for intent in ("director", "year", "recommend"):
            rows.append({"prompt_id": len(rows), "title": film.title, "role": film.role,
                         "intent": intent, "split": "train",
                         "question": f"Who directed {film.title}?"})
    return pd.DataFrame(rows)


def test_fact_questions_cover_forget_and_holdout_with_wrong_answers():
    q = fact_questions(_prompts(), CATALOG, n_wrong=2, seed=0)
    assert set(q.group) == {"forget", "holdout"} and set(q.intent) == {"director", "year"}
    for row in q.itertuples():
        assert row.gold not in row.wrong and len(set(row.wrong)) == 2
    assert q.equals(fact_questions(_prompts(), CATALOG, n_wrong=2, seed=0))
    with pytest.raises(ValueError, match="only 2 wrong"):
        fact_questions(_prompts(), CATALOG, n_wrong=3, seed=0)


def test_fact_statistics_match_their_definitions(tiny_model, tokenizer):
    q = fact_questions(_prompts(), CATALOG, n_wrong=1, seed=0)
    s = fact_samples(tiny_model, tokenizer, q, batch_size=2)
    assert (s.loss > 0).all() and (s.min_k <= -s.loss + 1e-9).all()  # lowest 20% <= the mean
    # truth ratio with one wrong answer = per-token p(wrong) / per-token p(gold)
    from actunlearn.quality import _answer_token_logprobs
    row = q.iloc[0]
    g, w = _answer_token_logprobs(tiny_model, tokenizer, [(row.question, row.gold),
                                                          (row.question, row.wrong[0])], 2, "cpu")
    assert s.truth_ratio.iloc[0] == pytest.approx(np.exp(w.mean()) / np.exp(g.mean()))


def test_membership_auc_and_ks_against_the_reference():
    rows = []
    for checkpoint, shift in (("retain_ref", 0.0), ("base", 3.0)):
        for i in range(6):
            rows.append({"checkpoint": checkpoint, "group": "forget", "loss": 2.0 - shift + i / 10,
                         "min_k": -3.0 + shift, "truth_ratio": 1.0 + i / 10 - shift / 10})
            rows.append({"checkpoint": checkpoint, "group": "holdout", "loss": 2.0 + i / 10,
                         "min_k": -3.0, "truth_ratio": 1.0})
    samples = pd.DataFrame(rows)
    auc = membership_auc(samples[samples.checkpoint == "base"])
    assert auc["mia_auc_loss"] == 1.0 and auc["mia_auc_min_k"] == 1.0
    assert membership_auc(samples[samples.checkpoint == "retain_ref"])["mia_auc_loss"] == 0.5
    summary = quality_summary(samples).set_index("checkpoint")
    assert summary.loc["retain_ref", "forget_quality_p"] == 1.0
    assert summary.loc["base", "ks_statistic"] > 0.5
    with pytest.raises(ValueError, match="reference checkpoint"):
        quality_summary(samples[samples.checkpoint == "base"])
