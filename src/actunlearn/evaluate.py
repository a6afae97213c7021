"""Evaluation of one checkpoint: recall by role and template split, recommendation exposure of
the forgotten title, and perplexity on held-out text.

A recall answer is correct when the normalised gold answer (lower case, letters and digits only)
occurs in the normalised greedy answer; for recommendations any gold title counts.
Exposure ranks the target title among all catalog titles by log p(title + end-of-turn | prompt),
so a model that merely *says* it forgot but still prefers the title is caught.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from actunlearn.modeling import (batches, collate, prompt_ids, qa_example, sequence_logprob,
                                 text_example, token_logprobs)

ROLES = ("forget", "neighbour", "retain", "unknown")
SPLITS = ("train", "held_out")


def normalise_text(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def is_correct(answer: str, gold: list[str]) -> bool:
    a = normalise_text(answer)
    return any(normalise_text(g) and normalise_text(g) in a for g in gold)


@torch.no_grad()
def generate_answers(model, tokenizer, questions: list[str], batch_size: int,
                     max_new_tokens: int, device: str = "cpu") -> list[str]:
    """Greedy answers, batched with left padding and an explicit pad token."""
    pad = tokenizer.pad_token_id
    out = []
    for chunk in batches(questions, batch_size):
        seqs = [prompt_ids(tokenizer, q) for q in chunk]
        width = max(map(len, seqs))
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id)
        out += tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
    return [a.strip() for a in out]


def recall_samples(model, tokenizer, prompts: pd.DataFrame, refusal: str, batch_size: int,
                   max_new_tokens: int, device: str = "cpu") -> pd.DataFrame:
    """Greedy answer per prompt: `correct` (gold found) and `refused` (the refusal found)."""
    answers = generate_answers(model, tokenizer, prompts.question.tolist(), batch_size,
                               max_new_tokens, device)
    out = prompts[["prompt_id", "intent", "title", "role", "template_id", "split"]].copy()
    out["response"] = answers
    out["correct"] = [is_correct(a, g) for a, g in zip(answers, prompts.gold)]
    out["refused"] = [is_correct(a, [refusal]) for a in answers]
    return out


@torch.no_grad()
def exposure_samples(model, tokenizer, prompts: pd.DataFrame, titles: list[str],
                     batch_size: int, device: str = "cpu") -> pd.DataFrame:
    """For every recommendation prompt (about another film) whose gold list holds a forget
    target: the target's log-probability and its rank among all catalog titles."""
    targets = set(prompts.title[prompts.role == "forget"])
    recs = prompts[(prompts.intent == "recommend") & (prompts.role != "forget")]
    rows = []
    for p in recs.itertuples(index=False):
        for target in (t for t in p.gold if t in targets):
            examples = [qa_example(tokenizer, p.question, t) for t in titles]
            scores = torch.cat([sequence_logprob(model, collate(c, tokenizer.pad_token_id, device))
                                for c in batches(examples, batch_size)]).cpu().numpy()
            own = scores[titles.index(target)]
            rows.append({"prompt_id": p.prompt_id, "title": p.title, "template_id": p.template_id,
                         "split": p.split, "target": target, "target_logprob": float(own),
                         "target_rank": int((scores > own).sum() + 1),
                         "n_candidates": len(titles)})
    return pd.DataFrame(rows, columns=["prompt_id", "title", "template_id", "split", "target",
                                       "target_logprob", "target_rank", "n_candidates"])


@torch.no_grad()
def perplexity_samples(model, tokenizer, corpus: pd.DataFrame, batch_size: int,
                       device: str = "cpu") -> pd.DataFrame:
    """Per held-out line: summed negative log-likelihood and token count."""
    lines = corpus[corpus.split == "held_out"]
    nll, ntok = [], []
    for chunk in batches(lines.text.tolist(), batch_size):
        b = collate([text_example(tokenizer, t) for t in chunk], tokenizer.pad_token_id, device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        lp, mask = token_logprobs(logits, b["labels"])
        nll += (-lp.sum(-1)).tolist()
        ntok += mask.sum(-1).tolist()
    out = lines[["line_id", "title", "forget"]].copy()
    out["nll"], out["tokens"] = nll, ntok
    return out


def summarise(recall: pd.DataFrame, exposure: pd.DataFrame, perplexity: pd.DataFrame
              ) -> pd.DataFrame:
    """Long table (metric, value, n). A metric whose sample set is empty gets no row: nothing
    is filled in."""
    rows = []
    for role in ROLES:
        for split in SPLITS:
            sel = recall[(recall.role == role) & (recall.split == split)]
            if len(sel):
                rows.append((f"{role}_recall_{split}", float(sel.correct.mean()), len(sel)))
                rows.append((f"{role}_refusal_{split}", float(sel.refused.mean()), len(sel)))
    if len(exposure):
        rows += [("exposure_logprob", float(exposure.target_logprob.mean()), len(exposure)),
                 ("exposure_prob", float(np.exp(exposure.target_logprob).mean()), len(exposure)),
                 ("exposure_rank", float(exposure.target_rank.mean()), len(exposure)),
                 ("exposure_top1", float((exposure.target_rank == 1).mean()), len(exposure))]
    for label, sel in (("retain", perplexity[~perplexity.forget]), ("forget", perplexity[perplexity.forget])):
        if len(sel):
            rows.append((f"perplexity_{label}", math.exp(sel.nll.sum() / sel.tokens.sum()), len(sel)))
    return pd.DataFrame(rows, columns=["metric", "value", "n"])
