"""Reference oracle for paraphrase instability: the same family rows as the evaluation's
greedy generation (`answer_families`), from a plain forward pass with generation's position ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from actunlearn.evaluation.instability import families, family_row
from actunlearn.models.encoding import batches, left_padded


@torch.no_grad()
def next_token_probs(model, tokenizer, questions: list[str], device: str = "cpu") -> np.ndarray:
    """[n, vocab] probabilities of the first answer token (left-padded batch; positions count
    from each prompt's first real token, as in generation)."""
    ids, mask, _ = left_padded(tokenizer, questions, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1]
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()



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
