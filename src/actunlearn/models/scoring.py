"""Scoring under a model: token log-probabilities, continuations, teacher-forced answers.
"""

from __future__ import annotations

import copy
import inspect

import torch

from actunlearn.models.encoding import IGNORE, batches, collate, length_chunks


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log p(label) for next-token prediction, and the mask of scored positions."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != IGNORE
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return lp * mask, mask


def sequence_logprob(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log p over the labelled tokens of each sequence."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    lp, _ = token_logprobs(logits, batch["labels"])
    return lp.sum(-1)


def _cache_of(output):
    """The key/value cache of a forward pass (named `cache` or, in older transformers,
    `past_key_values`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


def _cache_kwarg(model) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


@torch.no_grad()
def continuation_logprobs(model, prompt: list[int], continuations: list[list[int]],
                          batch_size: int, device: str = "cpu") -> torch.Tensor:
    """log p(continuation | prompt) summed over its tokens, for many continuations of one
    prompt: the prompt runs once and its key/value cache is shared (equal to scoring each full
    sequence; tested); continuations are batched by length (`length_chunks`). Falls back to full
    sequences for a model that returns no cache."""
    if not all(continuations):
        raise ValueError("continuation_logprobs: an empty continuation has no log-probability")
    p = torch.tensor([prompt], device=device)
    out = model(input_ids=p, use_cache=True)
    cache = _cache_of(out)
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        scores = torch.empty(len(continuations))
        for idx in length_chunks([len(c) for c in continuations], batch_size):
            chunk = [(prompt + continuations[i], [IGNORE] * len(prompt) + continuations[i])
                     for i in idx]
            scores[idx] = sequence_logprob(model, collate(chunk, 0, device)).cpu()
        return scores
    # the prompt's last position scores each first token; a continuation's own last token
    # predicts nothing, so only its other tokens are fed (one position in five, for titles)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    scores = first[[c[0] for c in continuations]].cpu()
    longer = [i for i, c in enumerate(continuations) if len(c) > 1]
    kwarg, n_prompt = _cache_kwarg(model), len(prompt)
    for part in length_chunks([len(continuations[i]) - 1 for i in longer], batch_size):
        idx = [longer[j] for j in part]
        chunk = [continuations[i] for i in idx]
        rows, width = len(chunk), max(map(len, chunk)) - 1
        ids = torch.zeros((rows, width), dtype=torch.long)
        targets = torch.zeros((rows, width), dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        for i, c in enumerate(chunk):
            ids[i, :len(c) - 1] = torch.tensor(c[:-1])
            targets[i, :len(c) - 1] = torch.tensor(c[1:])
            mask[i, :len(c) - 1] = 1
        ids, targets, mask = ids.to(device), targets.to(device), mask.to(device)
        shared = copy.deepcopy(cache)
        shared.batch_repeat_interleave(rows)
        attention = torch.cat([torch.ones((rows, n_prompt), dtype=torch.long, device=device), mask], 1)
        positions = (n_prompt + torch.arange(width, device=device)).expand(rows, -1)
        logits = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                       use_cache=True, **{kwarg: shared}).logits.float()
        lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        scores[idx] += (lp * mask).sum(-1).cpu()
    return scores


@torch.no_grad()
def teacher_forced_correct(model, examples, pad_id: int, batch_size: int = 64,
                           device: str = "cpu") -> list[bool]:
    """Whether argmax matches every labelled token: equals greedy decoding of the answer."""
    out: list[bool] = []
    for chunk in batches(examples, batch_size):
        b = collate(chunk, pad_id, device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        pred, labels = logits[:, :-1].argmax(-1), b["labels"][:, 1:]
        ok = ((pred == labels) | (labels == IGNORE)).all(-1)
        out += ok.tolist()
    return out
