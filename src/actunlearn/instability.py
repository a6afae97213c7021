"""Prompt-perturbation instability: do paraphrases of one question get the same answer?

A family is every template of one (film, intent) question. Per family, over all pairs of its
prompts: the Jensen-Shannon divergence (bits) of the next-token distribution at the first answer
position, the Jaccard overlap of the top-k next tokens, and agreement of greedy answers.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import torch

from actunlearn.evaluate import normalise_text
from actunlearn.modeling import batches, prompt_ids
from actunlearn.stats import jaccard, js_divergence


@torch.no_grad()
def next_token_probs(model, tokenizer, questions: list[str], device: str = "cpu") -> np.ndarray:
    """[n, vocab] probabilities of the first answer token (left-padded batch)."""
    pad = tokenizer.pad_token_id
    seqs = [prompt_ids(tokenizer, q) for q in questions]
    width = max(map(len, seqs))
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, -1].float()
    return torch.softmax(logits, dim=-1).cpu().numpy()


def family_instability(model, tokenizer, prompts: pd.DataFrame, responses: pd.Series,
                       families_per_batch: int = 16, top_k: int = 5, device: str = "cpu"
                       ) -> pd.DataFrame:
    """One row per (title, intent) family. `responses` maps prompt_id -> greedy response."""
    groups = [g for _, g in prompts.groupby(["title", "intent"], sort=True)]
    rows = []
    for chunk in batches(groups, families_per_batch):
        frame = pd.concat(chunk)
        probs = next_token_probs(model, tokenizer, frame.question.tolist(), device)
        offset = 0
        for g in chunk:
            p = probs[offset:offset + len(g)]
            offset += len(g)
            top = [set(np.argsort(-row)[:top_k].tolist()) for row in p]
            answers = [normalise_text(responses[pid]) for pid in g.prompt_id]
            pairs = list(combinations(range(len(g)), 2))
            js = [js_divergence(p[i], p[j]) for i, j in pairs]
            rows.append({
                "title": g.title.iloc[0], "intent": g.intent.iloc[0], "role": g.role.iloc[0],
                "n_prompts": len(g), "n_pairs": len(pairs),
                "js_mean": float(np.mean(js)), "js_max": float(np.max(js)),
                "topk_jaccard": float(np.mean([jaccard(top[i], top[j]) for i, j in pairs])),
                "greedy_agreement": float(np.mean([answers[i] == answers[j] for i, j in pairs])),
                "distinct_answers": len(set(answers)),
            })
    return pd.DataFrame(rows)
