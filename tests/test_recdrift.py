import numpy as np
import pandas as pd
import pytest

from actunlearn.evaluation.answers import rank_recommendations, recommendation_prompts
from actunlearn.evaluation.recommendation_drift import (
    METRICS,
    PAIR_COLUMNS,
    drift_pairs,
    drift_summary,
    pair_intervals,
)


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


def test_disjoint_lists_are_far_not_reversed():
    pairs = drift_pairs(_recs(), _embed, k=3, p=0.9)
    assert list(pairs.columns) == PAIR_COLUMNS
    assert all(str(pairs[c].dtype) == "Float64" for c in ("kendall_topk_distance", "overlap_at_k"))
    para = pairs[pairs.comparison == "paraphrase"].set_index("checkpoint")
    # m_seed0's two prompts: [B, A, C] vs [D, E, F], disjoint
    disjoint = para.loc["m_seed0"]
    assert disjoint.kendall_topk_distance == 1.0 and disjoint.overlap_at_k == 0.0
    assert disjoint.kendall_topk_note is None
    assert disjoint.kendall_tau < 0  # the legacy tau-b reads "disjoint" as "partly reversed"
    # the base model's noise floor: identical lists
    assert para.loc["base", "kendall_topk_distance"] == 0.0
    assert para.loc["base", "overlap_at_k"] == 1.0
    vs = pairs[pairs.comparison == "vs_base"].set_index("prompt_a")
    # prompt 0: [A, B, C] vs [B, A, C]: one discordant case-1 pair of 3 -> 1 / 12
    assert vs.loc[0, "kendall_topk_distance"] == pytest.approx(1 / 12)
    assert vs.loc[0, "overlap_at_k"] == 1.0
    assert vs.loc[1, "kendall_topk_distance"] == 1.0 and vs.loc[1, "overlap_at_k"] == 0.0
    # the default (top_k None: the lists whole) is top_k = the lists' length, 3
    same = drift_pairs(_recs(), _embed, k=3, p=0.9, top_k=3)
    pd.testing.assert_frame_equal(pairs, same)
    # top_k = 2: [A, B] vs [B, A]: 1 discordant pair / (2 * 2 + 0.5 * (1 + 1)) = 0.2
    two = drift_pairs(_recs(), _embed, k=3, p=0.9, top_k=2)
    two = two[two.comparison == "vs_base"].set_index("prompt_a")
    assert two.loc[0, "kendall_topk_distance"] == pytest.approx(0.2)
    assert two.loc[0, "overlap_at_k"] == 1.0
    assert (two.jaccard_at_k == pairs[pairs.comparison == "vs_base"].jaccard_at_k.values).all()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        drift_pairs(_recs(), _embed, top_k=0)


def test_summary_has_the_new_metrics_and_the_sql_sets_the_noise_floor_beside_them():
    from pathlib import Path

    import duckdb

    from actunlearn.reporting.database import run_sql_file
    pairs = drift_pairs(_recs(), _embed, k=3, p=0.9)
    summary = drift_summary(pairs)
    assert set(summary.metric) == set(METRICS)
    rows = summary.set_index(["checkpoint", "comparison", "metric"])
    assert rows.loc[("m_seed0", "vs_base", "kendall_topk_distance"), "value"] == \
        pytest.approx((1 / 12 + 1) / 2)
    assert rows.loc[("m_seed0", "vs_base", "overlap_at_k"), "value"] == pytest.approx(0.5)
    con = duckdb.connect()
    con.register("drift_intervals", pair_intervals(pairs))
    sql = Path(__file__).resolve().parents[1] / "sql/recommendation_drift.sql"
    table = run_sql_file(con, sql).set_index(["comparison", "method"])
    for metric in METRICS:
        assert f"{metric}_base_paraphrase" in table.columns and metric in table.columns
    # every row, the method's vs_base drift included, carries the base model's paraphrase value
    assert (table.kendall_topk_distance_base_paraphrase == "0.000").all()
    assert (table.overlap_at_k_base_paraphrase == "1.000").all()
    # one seed, one family, two pairs: the interval spans the pairs
    assert table.loc[("vs_base", "m"), "kendall_topk_distance"].startswith("0.542 [")
    assert table.loc[("paraphrase", "m"), "kendall_topk_distance"] == "1.000"
    assert table.loc[("paraphrase", "base"), "rbo"] == table.loc[("paraphrase", "base"),
                                                                 "rbo_base_paraphrase"]


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
    row = summary.loc[("m_seed0", "paraphrase", "kendall_topk_distance")]
    assert row.n == 0 and row.undefined == 1 and row["value"] is pd.NA
    # [A, B, C] against an empty list: the 3 pairs are all case 4 -> 1.0; no overlap
    assert summary.loc[("m_seed0", "vs_base", "kendall_topk_distance"), "value"] == 1.0
    assert summary.loc[("m_seed0", "vs_base", "overlap_at_k"), "value"] == 0.0



def test_pair_intervals_span_seeds_and_families_inside_the_range():
    rows = []
    for seed, rbo_value in enumerate([0.5, 0.6, 0.7]):
        for family in ("X", "Y"):
            rows.append({"checkpoint": f"m_seed{seed}", "comparison": "vs_base",
                         "family_kind": "control", "family": family, "prompt_a": 0,
                         "prompt_b": 0, **{m: None for m in METRICS}, "rbo": rbo_value})
    rows += [{"checkpoint": "base", "comparison": "paraphrase", "family_kind": "control",
              "family": family, "prompt_a": 0, "prompt_b": 1, **{m: None for m in METRICS},
              "rbo": 1.0} for family in ("X", "Y")]
    ci = pair_intervals(pd.DataFrame(rows)).set_index("method")
    assert set(ci.metric) == {"rbo"}  # undefined metrics are left out, not filled in
    assert ci.loc["m", "mean"] == pytest.approx(0.6) and ci.loc["m", "n"] == 3
    assert ci.loc["m", "n_families"] == 2 and 0 <= ci.loc["m", "low"] < 0.6 < ci.loc["m", "high"] <= 1
    # all at the upper bound: an exact binomial bound, never outside [0, 1]
    assert ci.loc["base", "high"] == 1.0 and 0 < ci.loc["base", "low"] < 1


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
                 str(catalog), "--out", str(out), "--base", "nope"]) == 2


def test_candidate_titles_keep_the_targets_and_are_seeded():
    from actunlearn.evaluation.answers import candidate_titles
    titles = [f"film {i}" for i in range(50)] + ["Inception", "The Prestige"]
    targets = {"Inception", "The Prestige"}
    assert candidate_titles(titles, targets, "all", 0) == titles
    a = candidate_titles(titles, targets, 10, 0)
    assert len(a) == 10 and targets <= set(a)
    assert a == [t for t in titles if t in a], "catalog order"
    assert a == candidate_titles(titles, targets, 10, 0)
    assert a != candidate_titles(titles, targets, 10, 1)
    with pytest.raises(ValueError, match="candidates=1 is fewer than the 2 forget targets"):
        candidate_titles(titles, targets, 1, 0)


def test_adjacent_films_can_be_a_seeded_sample():
    from actunlearn.evaluation.answers import recommendation_prompts
    rows = [{"prompt_id": i, "intent": "recommend", "title": f"f{i}", "role": "retain",
             "gold": ["T"]} for i in range(8)]
    rows += [{"prompt_id": 8, "intent": "recommend", "title": "T", "role": "forget",
              "gold": ["f0"]}, {"prompt_id": 9, "intent": "recommend", "title": "c",
                                "role": "retain", "gold": ["f1"]}]
    prompts = pd.DataFrame(rows)
    every = recommendation_prompts(prompts, 1, 0)
    assert set(every.title[every.family_kind == "adjacent"]) == {f"f{i}" for i in range(8)}
    some = recommendation_prompts(prompts, 1, 0, adjacent_films=3)  # per forget target
    picked = set(some.title[some.family_kind == "adjacent"])
    assert len(picked) == 3 and picked == set(recommendation_prompts(prompts, 1, 0, 3)
                                               .title[lambda s: s.str.startswith("f")])
    assert set(some.title[some.family_kind == "control"]) == {"c"}
