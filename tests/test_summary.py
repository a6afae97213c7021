"""The headline table: splits kept apart, design intervals in range, paired comparisons."""
import numpy as np
import pandas as pd
import pytest

from actunlearn.config import run_of
from actunlearn.reporting.summary import method_results, paired_differences

CATALOG = pd.DataFrame({"title": ["A", "B", "nA", "nB", "R"],
                        "neighbour_of": [None, None, "A", "B", None]})
INTENTS = ["director", "year", "genre"]


def _recall(method_hits: dict[str, float], seeds=(0, 1, 2), rng_seed=0) -> pd.DataFrame:
    """Per checkpoint: forget films A, B with recall ~hits; neighbours and retain at 0.9."""
    rng = np.random.default_rng(rng_seed)
    rows, pid = [], 0
    for method, hits in method_hits.items():
        for seed in ((0,) if method in ("base", "retain_ref", "dampen") else seeds):
            ck = method if method in ("base", "retain_ref") else f"{method}_seed{seed}"
            for title, role, p in (("A", "forget", hits), ("B", "forget", hits),
                                   ("nA", "neighbour", 0.9), ("nB", "neighbour", 0.9),
                                   ("R", "retain", 0.9)):
                for intent in INTENTS:
                    for template, split in enumerate(["train"] * 3 + ["held_out"] * 2):
                        rows.append({"checkpoint": ck, "prompt_id": pid, "intent": intent,
                                     "title": title, "role": role, "template_id": template,
                                     "split": split, "correct": bool(rng.random() < p)})
                        pid += 1
    return pd.DataFrame(rows)


def _exposure(recall: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for ck in sorted(set(recall.checkpoint)):
        for target in ("A", "B"):
            for context, split in (("R", "held_out"), ("nA", "train")):
                rows.append({"checkpoint": ck, "prompt_id": 0, "title": context,
                             "template_id": 0, "split": split, "target": target,
                             "target_logprob": -2.0, "target_rank": 3, "n_candidates": 50})
    return pd.DataFrame(rows)


def _summary(recall):
    return pd.DataFrame({"checkpoint": sorted(set(recall.checkpoint)), "metric": "perplexity_retain",
                         "value": 5.0, "n": 10})


def test_checkpoint_names():
    assert run_of("masked_lora_seed12", single_seed=0) == ("masked_lora", 12)
    assert run_of("retain_ref", single_seed=0) == ("retain_ref", 0)


def test_results_keep_splits_apart_and_count_the_design():
    recall = _recall({"base": 1.0, "masked_lora": 0.0, "dampen": 0.5})
    out = method_results(recall, _exposure(recall), _summary(recall), CATALOG, n_resamples=1000,
                         deterministic=["dampen"])
    row = out[(out.method == "masked_lora") & (out.metric == "forget_recall")
              & (out.film == "all")].set_index("split")
    assert set(row.index) == {"train", "held_out"}
    held = row.loc["held_out"]
    assert (held.n_seeds, held.n_films, held.n_facts, held.n_obs) == (3, 2, 6, 36)
    # all zero: the exact binomial bound, not a zero-width interval
    assert held.estimate == 0 and held.low == 0 and 0 < held.high < 0.5
    per_film = out[(out.metric == "neighbour_recall") & (out.film != "all")]
    assert set(per_film.film) == {"A", "B"}  # neighbours grouped by the film they neighbour
    assert out.set_index("method").loc["dampen", "deterministic"].all()
    assert out[(out.method == "dampen") & (out.metric == "forget_recall")].n_seeds.max() == 1
    bounded = out[out.metric != "perplexity_retain"].dropna(subset=["low"])
    ranks = bounded.metric == "exposure_rank"
    assert ((bounded.low[~ranks] >= 0) & (bounded.high[~ranks] <= 1)).all()
    assert ((bounded.low[ranks] >= 1) & (bounded.high[ranks] <= 50)).all()
    assert out[out.metric == "exposure_prob"].estimate.tolist() == \
        pytest.approx([np.exp(-2.0)] * int((out.metric == "exposure_prob").sum()))


def test_paired_difference_detects_a_real_gap_and_not_a_null_one():
    recall = _recall({"masked_lora": 0.1, "lora": 0.9, "random_mask_lora": 0.1}, rng_seed=3)
    diff = paired_differences(recall, _exposure(recall), CATALOG, n_resamples=1000)
    forget = diff[diff.metric == "forget_recall"].set_index("method")
    assert forget.loc["lora", "high"] < 0  # masked_lora forgets more than lora
    assert forget.loc["random_mask_lora", "low"] < 0 < forget.loc["random_mask_lora", "high"]
    assert (diff.low >= -1).all() and (diff.high <= 1).all()
    no_reference = recall[recall.checkpoint.str.startswith("lora")]
    assert paired_differences(no_reference, _exposure(no_reference), CATALOG).empty
