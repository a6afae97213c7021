import numpy as np
import pandas as pd
import pytest
import torch

from actunlearn.config import run_of
from actunlearn.evaluation.forget_quality import (
    fact_questions,
    fact_samples,
    fact_table,
    membership_auc,
    method_summary,
    quality_summary,
    sequence_token_logprobs,
)
from actunlearn.metrics.privacy import min_k_prob
from actunlearn.models.encoding import IGNORE, collate, qa_example
from actunlearn.models.scoring import token_logprobs

CATALOG = pd.DataFrame({"title": ["Inception", "Heat", "Nowhere", "Elsewhere"],
                        "year": [2010, 1995, 2001, 1987],
                        "director": ["Christopher Nolan", "Michael Mann", "X Y", "Z W"],
                        "genre": ["Sci-Fi", "Crime", "Drama", "Comedy"], "star": ["A", "B", "C", "D"],
                        "role": ["forget", "retain", "unknown", "holdout"]})


def _prompts(catalog=CATALOG, templates=2):
    rows = []
    for film in catalog.itertuples(index=False):
        for intent in ("director", "year", "recommend"):
            for t in range(templates):
                rows.append({"prompt_id": len(rows), "title": film.title, "role": film.role,
                             "intent": intent, "template_id": t,
                             "split": "train" if t == 0 else "held_out",
                             "question": f"Who directed {film.title}?" + " please" * t})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- fact questions


def test_fact_questions_are_the_forget_and_holdout_facts_with_wrong_answers():
    q = fact_questions(_prompts(), CATALOG, n_wrong=2, seed=0)
    assert set(q.group) == {"forget", "holdout"} and set(q.intent) == {"director", "year"}
    assert set(q.title[q.group == "forget"]) == {"Inception"}
    assert set(q.title[q.group == "holdout"]) == {"Elsewhere"}  # not the refused unknown film
    assert len(q) == 2 * 2 * 2  # films x intents x templates
    for row in q.itertuples():
        assert row.gold == str(CATALOG.set_index("title").loc[row.title, row.intent])
        assert row.gold not in row.wrong and len(set(row.wrong)) == 2
    assert q.equals(fact_questions(_prompts(), CATALOG, n_wrong=2, seed=0))
    # a prompt passed twice (e.g. the evaluated prompts plus the holdout prompts) counts once
    twice = pd.concat([_prompts(), _prompts()[_prompts().role == "holdout"]])
    assert len(fact_questions(twice, CATALOG, n_wrong=2, seed=0)) == len(q)
    with pytest.raises(ValueError, match="only 3 wrong"):
        fact_questions(_prompts(), CATALOG, n_wrong=4, seed=0)


@pytest.mark.parametrize("role", ["holdout", "forget"])
def test_fact_questions_need_both_groups(role):
    prompts = _prompts()
    with pytest.raises(ValueError, match=f"no '{role}' fact prompts"):
        fact_questions(prompts[prompts.role != role], CATALOG, n_wrong=2, seed=0)


# ---------------------------------------------------------------- per-question statistics


def test_min_k_is_the_mean_of_the_lowest_k_percent():
    lp = np.log([0.9, 0.8, 0.05, 0.7, 0.6, 0.5, 0.01, 0.95, 0.4, 0.3])
    assert min_k_prob(lp, 0.2) == pytest.approx((np.log(0.05) + np.log(0.01)) / 2)
    assert min_k_prob(lp, 1.0) == pytest.approx(lp.mean())


def test_fact_statistics_match_their_definitions(tiny_model, tokenizer):
    q = fact_questions(_prompts(), CATALOG, n_wrong=1, seed=0)
    s = fact_samples(tiny_model, tokenizer, q, batch_size=3)
    assert (s.loss > 0).all() and (s.min_k_percent == 20.0).all()
    row = q.iloc[0]
    ids, labels = qa_example(tokenizer, row.question, row.gold)
    n_answer = sum(label != IGNORE for label in labels)
    with torch.no_grad():
        logits = tiny_model(input_ids=torch.tensor([ids])).logits[0].float()
    # log p(x_i | x_<i) of every token after the first of the chat-formatted question + answer
    full = torch.log_softmax(logits[:-1], -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]
    full = full.numpy().astype(np.float64)
    (got, n), = sequence_token_logprobs(tiny_model, tokenizer, [(row.question, row.gold)], 1, "cpu")
    assert n == n_answer and len(got) == len(ids) - 1 > n_answer
    np.testing.assert_allclose(got, full, atol=1e-5)
    # the answer tail equals the answer-only labelled log-probs of qa_example
    b = collate([(ids, labels)], tokenizer.pad_token_id)
    with torch.no_grad():
        lp, mask = token_logprobs(tiny_model(input_ids=b["input_ids"]).logits, b["labels"])
    np.testing.assert_allclose(got[-n:], lp[mask].numpy(), atol=1e-5)
    # loss: answer tokens only; Min-K%: the lowest ceil(20% of n) over the whole sequence
    assert s.loss.iloc[0] == pytest.approx(-full[-n:].mean(), abs=1e-5)
    m = int(np.ceil(0.2 * len(full)))
    assert s.min_k.iloc[0] == pytest.approx(np.sort(full)[:m].mean(), abs=1e-5)
    # truth ratio with one wrong answer = per-token p(wrong) / per-token p(gold)
    (w, nw), = sequence_token_logprobs(tiny_model, tokenizer, [(row.question, row.wrong[0])], 1,
                                       "cpu")
    assert s.truth_ratio.iloc[0] == pytest.approx(np.exp(w[-nw:].mean()) / np.exp(full[-n:].mean()),
                                                  rel=1e-4)
    # k is a parameter, recorded
    s50 = fact_samples(tiny_model, tokenizer, q.iloc[:1], batch_size=1, min_k_percent=50)
    assert s50.min_k_percent.iloc[0] == 50.0
    assert s50.min_k.iloc[0] == pytest.approx(np.sort(full)[:int(np.ceil(0.5 * len(full)))].mean(),
                                              abs=1e-5)
    with pytest.raises(ValueError, match="min_k_percent"):
        fact_samples(tiny_model, tokenizer, q, batch_size=2, min_k_percent=0)


# ---------------------------------------------------------------- per-fact tests and summaries


def _samples(checkpoints: dict[str, float], n_forget=6, n_holdout=6, templates=5, seed=0):
    """Fact questions of several checkpoints: per fact `templates` paraphrase rows around a
    fact-level value; `shift` > 0 makes the forget facts look like members."""
    rng = np.random.default_rng(seed)
    rows = []
    for checkpoint, shift in checkpoints.items():
        for group, n in (("forget", n_forget), ("holdout", n_holdout)):
            for f in range(n):
                title, base = f"{group}{f // 2}", f / 10
                for t in range(templates):
                    member = shift if group == "forget" else 0.0
                    noise = rng.normal(0, 0.01)
                    rows.append({"checkpoint": checkpoint, "prompt_id": len(rows), "title": title,
                                 "intent": ("director", "year")[f % 2], "template_id": t,
                                 "group": group, "loss": 2.0 - member + base + noise,
                                 "min_k": -3.0 + member - base + noise, "min_k_percent": 20.0,
                                 "truth_ratio": float(np.exp(base - member + noise))})
    return pd.DataFrame(rows)


def test_fact_table_aggregates_paraphrases():
    s = _samples({"retain_ref": 0.0}, n_forget=2, n_holdout=2, templates=3)
    facts = fact_table(s)
    assert len(facts) == 4 and (facts.n_prompts == 3).all()
    one = s[(s.title == "forget0") & (s.intent == "director")]
    got = facts[(facts.title == "forget0") & (facts.intent == "director")].iloc[0]
    assert got.loss == pytest.approx(one.loss.mean())
    assert got.min_k == pytest.approx(one.min_k.mean())
    assert got.truth_ratio == pytest.approx(np.exp(np.log(one.truth_ratio).mean()))  # geometric


def test_membership_auc_and_ks_against_the_reference():
    samples = _samples({"retain_ref": 0.0, "base": 3.0})
    summary = quality_summary(samples).set_index("checkpoint")
    assert summary.loc["base", "mia_auc_loss"] == 1.0 and summary.loc["base", "mia_auc_min_k"] == 1.0
    assert summary.loc["base", "ks_statistic"] > 0.5 and summary.loc["base", "forget_quality_p"] < 0.05
    assert summary.loc["base", "n_forget_facts"] == 6 and summary.loc["base", "n_forget_films"] == 3
    assert summary.loc["base", "n_forget_prompts"] == 30 and summary.loc["base", "min_k_percent"] == 20
    facts = fact_table(samples)
    base = facts[facts.checkpoint == "base"]
    assert membership_auc(base)["mia_auc_loss"] == 1.0
    gap = summary.loc["base", "mia_auc_loss"] - summary.loc["retain_ref", "mia_auc_loss"]
    assert summary.loc["base", "mia_auc_loss_gap"] == pytest.approx(abs(gap))
    assert summary.loc["base", "mia_auc_loss_ref"] == summary.loc["retain_ref", "mia_auc_loss"]
    with pytest.raises(ValueError, match="reference checkpoint"):
        quality_summary(samples[samples.checkpoint == "base"])


def test_the_reference_against_itself():
    summary = quality_summary(_samples({"retain_ref": 0.0, "base": 3.0})).set_index("checkpoint")
    ref = summary.loc["retain_ref"]
    assert ref.mia_auc_loss_gap == 0.0 and ref.mia_auc_min_k_gap == 0.0
    assert ref.ks_statistic == 0.0 and ref.forget_quality_p == 1.0
    assert ref.method == "retain_ref" and pd.isna(ref.seed)


def test_paraphrases_of_one_fact_count_once():
    samples = _samples({"retain_ref": 0.0, "ga_seed0": 1.0})
    before = quality_summary(samples)
    fact = samples[(samples.title == "forget1") & (samples.intent == "director")]
    # the fact's template rows again, as the same prompts and as further prompts
    again = pd.concat([samples, fact], ignore_index=True)
    more = pd.concat([samples, fact.assign(prompt_id=fact.prompt_id + 10_000)], ignore_index=True)
    for duplicated in (again, more):
        after = quality_summary(duplicated)
        cols = ["n_forget_facts", "n_holdout_facts", "n_forget_films", "ks_statistic",
                "forget_quality_p", "mia_auc_loss", "mia_auc_min_k", "truth_ratio_forget"]
        pd.testing.assert_frame_equal(after[cols], before[cols])
    assert (before.n_forget_facts == 6).all()  # facts, not the 30 prompts


def test_holdout_group_is_required():
    samples = _samples({"retain_ref": 0.0, "base": 3.0})
    with pytest.raises(ValueError, match="no 'holdout' facts"):
        quality_summary(samples[samples.group != "holdout"])
    with pytest.raises(ValueError, match="no 'forget' facts"):
        quality_summary(samples[samples.group != "forget"])


def test_auc_is_one_half_when_members_look_like_non_members():
    # identical score distributions: the same values in both groups, or draws from one law
    same = _samples({"retain_ref": 0.0}, n_forget=8, n_holdout=8)
    same.loc[same.group == "holdout", ["loss", "min_k"]] = \
        same.loc[same.group == "forget", ["loss", "min_k"]].to_numpy()
    facts = fact_table(same)
    assert membership_auc(facts) == {"mia_auc_loss": 0.5, "mia_auc_min_k": 0.5}
    rng = np.random.default_rng(1)
    n = 2000
    drawn = pd.DataFrame({"group": ["forget"] * n + ["holdout"] * n,
                          "loss": rng.exponential(2.0, 2 * n), "min_k": -rng.exponential(3.0, 2 * n)})
    got = membership_auc(drawn)
    assert abs(got["mia_auc_loss"] - 0.5) < 0.04 and abs(got["mia_auc_min_k"] - 0.5) < 0.04


def test_checkpoint_names_give_method_and_seed():
    assert run_of("masked_lora_seed12") == ("masked_lora", 12)
    assert run_of("base") == ("base", None)
    assert run_of("retain_ref") == ("retain_ref", None)


def _summary(rows):
    return pd.DataFrame([{"checkpoint": c, "method": run_of(c)[0],
                          "seed": run_of(c)[1], "n_forget_facts": 6,
                          "n_holdout_facts": 6, "min_k_percent": 20.0, "mia_auc_loss": a,
                          "mia_auc_loss_ref": 0.5, "mia_auc_loss_gap": abs(a - 0.5),
                          "mia_auc_min_k": a, "mia_auc_min_k_ref": 0.5,
                          "mia_auc_min_k_gap": abs(a - 0.5), "truth_ratio_forget": 1.0,
                          "ks_statistic": 0.2, "forget_quality_p": p} for c, a, p in rows])


def test_share_of_runs_with_p_above_0_05():
    summary = _summary([("ga_seed0", 0.6, 0.5), ("ga_seed1", 0.7, 0.01), ("ga_seed2", 0.9, 0.2),
                        ("ga_seed3", 0.4, 0.05), ("retain_ref", 0.5, 1.0)])
    out = method_summary(summary).set_index("method")
    ga = out.loc["ga"]
    assert ga.runs == 4 and ga.runs_p_above_0_05 == 2  # 0.05 itself is not above
    # the lower median: an observed p-value, not the mean of the two middle ones (0.125)
    assert ga.share_p_above_0_05 == 0.5 and ga.forget_quality_p_median == 0.05
    assert ga.mia_auc_loss_mean == pytest.approx(0.65)
    assert (ga.mia_auc_loss_min, ga.mia_auc_loss_max) == (0.4, 0.9)
    assert ga.mia_auc_loss_gap_mean == pytest.approx((0.1 + 0.2 + 0.4 + 0.1) / 4)
    assert out.loc["retain_ref", "runs"] == 1 and out.loc["retain_ref", "share_p_above_0_05"] == 1.0
    assert not any("mean" in c and "_p" in c for c in out.columns)  # p-values are never averaged
    bad = summary.copy()
    bad.loc[0, "n_forget_facts"] = 5
    with pytest.raises(ValueError, match="n_forget_facts"):
        method_summary(bad)


def test_summary_and_method_summary_end_to_end():
    samples = _samples({"base": 3.0, "retain_ref": 0.0, "ga_seed0": 0.0, "ga_seed1": 3.0})
    out = method_summary(quality_summary(samples)).set_index("method")
    assert list(out.index) == ["base", "ga", "retain_ref"]
    assert out.loc["ga", "runs"] == 2 and out.loc["ga", "runs_p_above_0_05"] == 1
    assert out.loc["retain_ref", "mia_auc_loss_gap_max"] == 0.0


def test_report_table_per_method(tmp_path):
    from pathlib import Path

    from actunlearn.provenance import provenance, write_parquet
    from actunlearn.reporting.database import build_database, connect, run_sql_file
    samples = _samples({"base": 3.0, "retain_ref": 0.0, "ga_seed0": 0.0, "ga_seed1": 3.0})
    summary = quality_summary(samples)
    for name, frame in (("summary", summary), ("intervals", method_summary(summary))):
        write_parquet(frame, tmp_path / f"results/testbed/quality/{name}.parquet", provenance({}))
    db = tmp_path / "results/testbed/actunlearn.duckdb"
    assert set(build_database(db, tmp_path, "testbed")) == {"quality_intervals", "quality_summary"}
    with connect(db) as con:
        table = run_sql_file(con, Path(__file__).parents[1] / "sql/forget_quality.sql")
    table = table.set_index("method")
    assert list(table.index) == ["base", "retain_ref", "ga"]
    assert table.loc["ga", "runs"] == 2 and table.loc["ga", "forget_quality_p_above_0_05"] == "1 of 2 (50%)"
    assert table.loc["retain_ref", "forget_quality_p_median_range"] == "1"
    assert table.loc["retain_ref", "mia_auc_loss_gap_mean_range"] == "0.000"
    assert table.loc["ga", "mia_auc_loss_mean_range"].startswith("0.")
    assert "(min " in table.loc["ga", "mia_auc_loss_mean_range"]
    assert not any("mean" in c and "_p_" in c for c in table.columns)
