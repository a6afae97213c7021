"""Prompt-perturbation instability: do paraphrases of one question get the same answer?

A family is every template of one (film, intent) question. Per family, over all pairs of its
prompts: the Jensen-Shannon divergence (bits) of the next-token distribution at the first answer
position, the Jaccard overlap of the top-k next tokens, and agreement of greedy answers.
The evaluation stage computes it from the first step of its greedy generation
(`evaluation.answers.answer_families`); the tests check it against a plain forward pass.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from actunlearn.metrics.stats import jaccard, js_divergence
from actunlearn.metrics.text import normalise_text


def family_row(group: pd.DataFrame, probs: np.ndarray, answers: list[str], top_k: int) -> dict:
    """One family's row from its prompts' first-token distributions and greedy answers."""
    top = [set(np.argsort(-row)[:top_k].tolist()) for row in probs]
    norm = [normalise_text(a) for a in answers]
    pairs = list(combinations(range(len(group)), 2))
    if not pairs:
        raise ValueError(f"instability: family {group.title.iloc[0]!r}/{group.intent.iloc[0]!r} "
                         "has a single prompt; a family needs at least two paraphrases")
    js = [js_divergence(probs[i], probs[j]) for i, j in pairs]
    return {
        "title": group.title.iloc[0], "intent": group.intent.iloc[0], "role": group.role.iloc[0],
        "n_prompts": len(group), "n_pairs": len(pairs),
        "js_mean": float(np.mean(js)), "js_max": float(np.max(js)),
        "topk_jaccard": float(np.mean([jaccard(top[i], top[j]) for i, j in pairs])),
        "greedy_agreement": float(np.mean([norm[i] == norm[j] for i, j in pairs])),
        "distinct_answers": len(set(norm)),
    }


def families(prompts: pd.DataFrame) -> list[pd.DataFrame]:
    return [g for _, g in prompts.groupby(["title", "intent"], sort=True)]
