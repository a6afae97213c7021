"""Prompt-perturbation instability: do paraphrases of one question get the same answer?

A family is every template of one (film, intent) question. Per family, over all pairs of its
prompts: the Jensen-Shannon divergence (bits) of the next-token distribution at the first answer
position, the Jaccard overlap of the top-k next tokens, and agreement of greedy answers.
The evaluation stage computes it from the first step of its greedy generation
(`evaluate.answer_families`); `family_instability` does the same from a plain forward pass.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import torch

from actunlearn.metrics.stats import jaccard, js_divergence
from actunlearn.metrics.text import normalise_text
from actunlearn.models.encoding import batches, left_padded


@torch.no_grad()
def next_token_probs(model, tokenizer, questions: list[str], device: str = "cpu") -> np.ndarray:
    """[n, vocab] probabilities of the first answer token (left-padded batch; positions count
    from each prompt's first real token, as in generation)."""
    ids, mask, _ = left_padded(tokenizer, questions, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()


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


def family_instability(model, tokenizer, prompts: pd.DataFrame, responses: pd.Series,
                       families_per_batch: int = 16, top_k: int = 5, device: str = "cpu"
                       ) -> pd.DataFrame:
    """One row per (title, intent) family. `responses` maps prompt_id -> greedy response."""
    rows = []
    for chunk in batches(families(prompts), families_per_batch):
        probs = next_token_probs(model, tokenizer, pd.concat(chunk).question.tolist(), device)
        offset = 0
        for g in chunk:
            rows.append(family_row(g, probs[offset:offset + len(g)],
                                   [responses[pid] for pid in g.prompt_id], top_k))
            offset += len(g)
    return pd.DataFrame(rows)
