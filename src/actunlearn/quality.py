"""Unlearning quality beyond recall: forget quality against the retain reference (TOFU's idea)
and membership inference.

Per checkpoint, one row per fact question (intents director, year, genre, star; train and
held-out templates) of two groups:
- `forget`: the forget targets' facts (members: the base model trained on them);
- `holdout`: the true facts of the catalog's unknown films, which no model ever saw (the testbed
  was only taught to refuse questions about them; a caveat: those questions' refusal training
  may lower their answers' probability by itself).
Statistics of the gold answer a (with its end-of-turn token) given the question q:
- `loss`: mean token negative log-likelihood of a;
- `min_k`: Min-K% Prob (mean of the lowest 20% token log-probabilities; Shi et al. 2024);
- `truth_ratio`: (mean over `n_wrong` wrong answers w of p(w|q)^(1/|w|)) / p(a|q)^(1/|a|), the
  wrong answers being other catalog films' values of the same attribute (seeded); TOFU's
  statistic with catalog perturbations instead of paraphrased ones.
Summaries: membership-inference AUC (forget = positives, holdout = negatives, score = -loss or
min_k; 0.5 = indistinguishable, the retain reference's value is the target), and the forget
quality: the two-sample KS test of the checkpoint's forget truth ratios against the retain
reference's (a high p-value: indistinguishable from a model that never saw the facts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from actunlearn.drift import auc, ks_test, min_k_prob
from actunlearn.modeling import batches, collate, qa_example, token_logprobs

FACT_INTENTS = ("director", "year", "genre", "star")


def fact_questions(prompts: pd.DataFrame, catalog: pd.DataFrame, n_wrong: int, seed: int
                   ) -> pd.DataFrame:
    """Forget and holdout fact questions with their gold answer and `n_wrong` wrong answers."""
    rng = np.random.default_rng(seed)
    facts = prompts[prompts.intent.isin(FACT_INTENTS) & prompts.role.isin(["forget", "unknown"])]
    films = catalog.set_index("title")
    rows = []
    for p in facts.itertuples(index=False):
        gold = str(films.loc[p.title, p.intent])
        values = sorted({str(v) for v in catalog[p.intent]} - {gold})
        if len(values) < n_wrong:
            raise ValueError(f"quality: only {len(values)} wrong {p.intent} values for {n_wrong}")
        wrong = [values[i] for i in rng.choice(len(values), size=n_wrong, replace=False)]
        rows.append({"prompt_id": p.prompt_id, "title": p.title, "intent": p.intent,
                     "split": p.split, "group": "forget" if p.role == "forget" else "holdout",
                     "question": p.question, "gold": gold, "wrong": wrong})
    return pd.DataFrame(rows)


@torch.no_grad()
def _answer_token_logprobs(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int,
                           device: str) -> list[np.ndarray]:
    out = []
    for chunk in batches(pairs, batch_size):
        b = collate([qa_example(tokenizer, q, a) for q, a in chunk], tokenizer.pad_token_id,
                    device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        lp, mask = token_logprobs(logits, b["labels"])
        out += [row[m].cpu().numpy().astype(np.float64) for row, m in zip(lp, mask)]
    return out


def fact_samples(model, tokenizer, questions: pd.DataFrame, batch_size: int,
                 device: str = "cpu") -> pd.DataFrame:
    """`questions` plus `loss`, `min_k` and `truth_ratio` per fact (see the module docstring)."""
    gold = _answer_token_logprobs(model, tokenizer, list(zip(questions.question, questions.gold)),
                                  batch_size, device)
    n_wrong = len(questions.wrong.iloc[0]) if len(questions) else 0
    flat = [(q, w) for q, ws in zip(questions.question, questions.wrong) for w in ws]
    wrong = _answer_token_logprobs(model, tokenizer, flat, batch_size, device)
    out = questions.drop(columns=["wrong"]).copy()
    out["loss"] = [float(-g.mean()) for g in gold]
    out["min_k"] = [min_k_prob(g, 0.2) for g in gold]
    ratios = []
    for i, g in enumerate(gold):
        per_token_gold = np.exp(g.mean())
        per_token_wrong = [np.exp(w.mean()) for w in wrong[i * n_wrong:(i + 1) * n_wrong]]
        ratios.append(float(np.mean(per_token_wrong) / per_token_gold))
    out["truth_ratio"] = ratios
    return out


def membership_auc(samples: pd.DataFrame) -> dict[str, float]:
    """AUC of telling forget facts from holdout facts by -loss and by min_k."""
    pos, neg = samples[samples.group == "forget"], samples[samples.group == "holdout"]
    return {"mia_auc_loss": auc(-pos.loss.to_numpy(), -neg.loss.to_numpy()),
            "mia_auc_min_k": auc(pos.min_k.to_numpy(), neg.min_k.to_numpy())}


def quality_summary(samples: pd.DataFrame, reference: str = "retain_ref") -> pd.DataFrame:
    """Per checkpoint: membership AUCs, the median forget truth ratio (the mean is dominated by
    facts whose gold probability collapsed), and the KS test of its forget truth ratios against
    the `reference` checkpoint's (statistic and p-value)."""
    if reference not in set(samples.checkpoint):
        raise ValueError(f"quality: reference checkpoint {reference!r} missing")
    ref = samples[(samples.checkpoint == reference) & (samples.group == "forget")].truth_ratio
    rows = []
    for checkpoint, g in samples.groupby("checkpoint", sort=True):
        forget = g[g.group == "forget"].truth_ratio
        stat, p = ks_test(forget.to_numpy(), ref.to_numpy())
        rows.append({"checkpoint": checkpoint, **membership_auc(g),
                     "truth_ratio_forget": float(forget.median()), "ks_statistic": stat,
                     "forget_quality_p": p, "n_forget": len(forget),
                     "n_holdout": int((g.group == "holdout").sum())})
    return pd.DataFrame(rows)
