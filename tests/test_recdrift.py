import numpy as np
import pandas as pd
import pytest

from actunlearn.evaluate import exposure_samples, rank_recommendations, recommendation_prompts
from actunlearn.recdrift import drift_pairs, drift_summary, seed_intervals


def _embed(texts):
    """Deterministic unit vectors: equal texts, equal vectors."""
    out = []
    for t in texts:
        v = np.array([len(t) + 1.0, sum(map(ord, t)) % 7 + 1.0, t.count("a") + 1.0])
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def _recs():
    rows = []
    lists = {"base": [["A", "B", "C"], ["A", "B", "C"]],
             "m_seed0": [["B", "A", "C"], ["D", "E", "F"]]}
    for checkpoint, family_lists in lists.items():
        for pid, ranked in enumerate(family_lists):
            rows.append({"checkpoint": checkpoint, "prompt_id": pid, "family": "X",
                         "family_kind": "control", "ranked": ranked, "response": " ".join(ranked)})
    return pd.DataFrame(rows)


def test_pairs_within_families_and_against_base():
    pairs = drift_pairs(_recs(), _embed, k=3, p=0.9)
    para = pairs[pairs.comparison == "paraphrase"].set_index("checkpoint")
    assert para.loc["base", "kendall_tau"] == 1.0 and para.loc["base", "rbo"] == pytest.approx(1.0)
    assert para.loc["base", "embedding_cosine"] == pytest.approx(1.0)
    assert para.loc["m_seed0", "jaccard_at_k"] == 0.0 and para.loc["m_seed0", "rbo"] == 0.0
    vs = pairs[pairs.comparison == "vs_base"].set_index("prompt_a")
    assert len(vs) == 2 and set(vs.checkpoint) == {"m_seed0"}
    # prompt 0: one adjacent swap of three items: tau-b = (2 - 1) / 3
    assert vs.loc[0, "kendall_tau"] == pytest.approx(1 / 3)
    assert vs.loc[1, "jaccard_at_k"] == 0.0


def test_bad_inputs_are_named():
    recs = _recs()
    with pytest.raises(ValueError, match="unit-normalised"):
        drift_pairs(recs, lambda t: np.ones((len(t), 3)))
    with pytest.raises(ValueError, match="no 'base' counterpart"):
        drift_pairs(recs[~((recs.checkpoint == "base") & (recs.prompt_id == 1))], _embed)
    with pytest.raises(ValueError, match="missing columns"):
        drift_pairs(recs.drop(columns="ranked"), _embed)


def test_summary_counts_undefined_pairs_and_intervals_over_seeds():
    recs = _recs()
    empty = recs.copy()
    empty.loc[empty.checkpoint == "m_seed0", "ranked"] = pd.Series([[], []], index=[2, 3])
    summary = drift_summary(drift_pairs(empty, _embed)).set_index(
        ["checkpoint", "comparison", "metric"])
    row = summary.loc[("m_seed0", "paraphrase", "kendall_tau")]
    assert row.n == 0 and row.undefined == 1 and row["value"] is pd.NA
    three = pd.DataFrame({"checkpoint": ["m_seed0", "m_seed1", "m_seed2", "base"],
                          "comparison": "vs_base", "family_kind": "control", "metric": "rbo",
                          "value": [0.5, 0.6, 0.7, 1.0], "n": 1, "undefined": 0})
    ci = seed_intervals(three).set_index("method")
    assert ci.loc["m", "mean"] == pytest.approx(0.6) and ci.loc["m", "n"] == 3
    assert ci.loc["m", "low"] == pytest.approx(0.6 - 4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert ci.loc["base", "low"] is None or pd.isna(ci.loc["base", "low"])


def test_ranked_lists_and_exposure_come_from_the_same_scores(tiny_model, tokenizer):
    titles = ["Inception", "Memento", "The Prestige"]
    prompts = pd.DataFrame({
        "prompt_id": [0, 1, 2, 3], "title": ["Inception", "The Prestige", "The Prestige", "Memento"],
        "role": ["forget", "neighbour", "neighbour", "retain"], "intent": ["recommend"] * 4,
        "template_id": [0, 0, 1, 0], "split": ["train", "train", "held_out", "train"],
        "question": ["Recommend a film like Inception.", "Recommend a film like The Prestige.",
                     "I liked The Prestige. What should I watch next?",
                     "Recommend a film like Memento."],
        "gold": [["Memento"], ["Inception"], ["Inception"], ["The Prestige"]],
        "answer": ["Memento", "Inception", "Inception", "The Prestige"]})
    recs = recommendation_prompts(prompts, 1, seed=0)
    assert dict(zip(recs.title, recs.family_kind)) == {"Inception": "target",
                                                      "The Prestige": "adjacent",
                                                      "Memento": "control"}
    lists, exposure = rank_recommendations(tiny_model, tokenizer, recs, titles, {"Inception"},
                                           top_k=3, batch_size=2)
    assert (lists.groupby("prompt_id").size() == 3).all()
    for _, g in lists.groupby("prompt_id"):
        assert g.sort_values("rank").logprob.is_monotonic_decreasing
    assert sorted(exposure.prompt_id) == [1, 2]
    alone = exposure_samples(tiny_model, tokenizer, prompts, titles, batch_size=2)
    assert np.allclose(alone.target_logprob, exposure.target_logprob)
    inception = lists[lists.candidate == "Inception"].set_index("prompt_id")
    assert (inception.loc[[1, 2], "rank"].to_numpy() == exposure.target_rank.to_numpy()).all()
    with pytest.raises(ValueError, match="control_films=5"):
        recommendation_prompts(prompts, 5, seed=0)


def test_drift_command_on_example_logs(tmp_path):
    from pathlib import Path

    from actunlearn.cli import main
    root = Path(__file__).resolve().parents[1]
    catalog = tmp_path / "catalog.parquet"
    pd.DataFrame({"title": ["The Prestige", "Interstellar", "Memento", "Inception", "Collateral",
                            "The Departed", "Heat"]}).to_parquet(catalog)
    out = tmp_path / "drift"
    assert main(["drift", str(root / "docs/examples/recommendation_logs.jsonl"), "--catalog",
                 str(catalog), "--out", str(out), "--base", "base"]) == 0
    recs = pd.read_parquet(out / "recommendations.parquet")
    first = recs[(recs.checkpoint == "base") & (recs.prompt_id == "Recommend a film like Inception.")]
    assert list(first.ranked.iloc[0]) == ["The Prestige", "Interstellar", "Memento"]
    pairs = pd.read_parquet(out / "pairs.parquet")
    heat = pairs[(pairs.comparison == "vs_base") & (pairs.family == "like-heat")]
    # the unlearned model answers the control family exactly as the base model on 2 of 3 prompts
    assert (heat.rbo > 0.99).sum() == 2 and (heat.jaccard_at_k == 1.0).all()
    assert main(["drift", str(root / "docs/examples/recommendation_logs.jsonl"), "--catalog",
                 str(catalog), "--out", str(out), "--base", "nope"]) == 1


def test_candidate_titles_keep_targets_and_gold_and_are_seeded():
    from actunlearn.evaluate import candidate_titles
    titles = [f"film {i}" for i in range(50)] + ["Inception", "The Prestige"]
    recs = pd.DataFrame({"gold": [["The Prestige", "film 3"], ["Inception"]]})
    assert candidate_titles(titles, recs, {"Inception"}, "all", 0) == titles
    a = candidate_titles(titles, recs, {"Inception"}, 10, 0)
    assert len(a) == 10 and {"Inception", "The Prestige", "film 3"} <= set(a)
    assert a == [t for t in titles if t in a], "catalog order"
    assert a == candidate_titles(titles, recs, {"Inception"}, 10, 0)
    assert a != candidate_titles(titles, recs, {"Inception"}, 10, 1)
    with pytest.raises(ValueError, match="candidates=2 is fewer than the 3 titles"):
        candidate_titles(titles, recs, {"Inception"}, 2, 0)
