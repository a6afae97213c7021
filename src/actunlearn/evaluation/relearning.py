"""Relearning attack: does forgotten knowledge come back after a little fine-tuning?

Two attacks on a copy of the checkpoint (all parameters, AdamW, seeded batches):
- `forget_subset`: fine-tune on the forget targets' facts of `train_intents` (train templates);
  recovery is measured on the targets' *other* fact intents, which the attack never shows;
- `neighbours`: fine-tune on the neighbour films' facts only (train templates); recovery is
  measured on all the targets' fact questions.
Recall is teacher-forced (the gold answer is the argmax at every answer position, which equals
greedy decoding of it), on train and held-out templates, before and after the attack. The retain
reference (which never saw the targets) is attacked too: what it "recovers" is what the attack
teaches by itself, not what unlearning hid.
"""

from __future__ import annotations

import copy

import pandas as pd
import torch

from actunlearn.config import run_of
from actunlearn.metrics.intervals import design_interval
from actunlearn.models.encoding import collate, qa_example
from actunlearn.models.loading import seed_everything
from actunlearn.models.scoring import teacher_forced_correct

FACT_INTENTS = ("director", "year", "genre", "star")


def attack_sets(prompts: pd.DataFrame, train_intents: list[str]) -> dict[str, tuple]:
    """variant -> (training prompts, measured prompts)."""
    unknown = sorted(set(train_intents) - set(FACT_INTENTS))
    if unknown or not train_intents or set(train_intents) == set(FACT_INTENTS):
        raise ValueError(f"relearn.train_intents: {train_intents} must be a proper, non-empty "
                         f"subset of {list(FACT_INTENTS)}")
    facts = prompts[prompts.intent.isin(FACT_INTENTS)]
    forget, near = facts[facts.role == "forget"], facts[facts.role == "neighbour"]
    given = forget[forget.intent.isin(train_intents) & (forget.split == "train")]
    hidden = forget[~forget.intent.isin(train_intents)]
    if given.empty or hidden.empty or near.empty:
        raise ValueError("relearn: the catalog needs forget targets with facts and neighbours")
    return {"forget_subset": (given, hidden),
            "neighbours": (near[near.split == "train"], forget)}


def _recall(model, tokenizer, frame: pd.DataFrame, device: str) -> list[bool]:
    examples = [qa_example(tokenizer, q, a) for q, a in zip(frame.question, frame.answer)]
    return teacher_forced_correct(model, examples, tokenizer.pad_token_id, device=device)


def relearn_attack(model, tokenizer, prompts: pd.DataFrame, train_intents: list[str], steps: int,
                   learning_rate: float, batch_size: int, seed: int, device: str = "cpu"
                   ) -> pd.DataFrame:
    """Rows (variant, split, title, intent, phase `before`/`after`, recall, n) on the measured
    prompts: one per measured fact and template split."""
    rows = []
    for variant, (train, measured) in attack_sets(prompts, train_intents).items():
        attacked = copy.deepcopy(model).to(device).train()
        for p in attacked.parameters():
            p.requires_grad_(True)
        before = _recall(attacked, tokenizer, measured, device)
        examples = [qa_example(tokenizer, q, a) for q, a in zip(train.question, train.answer)]
        seed_everything(seed)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(attacked.parameters(), lr=learning_rate, weight_decay=0.0)
        for step in range(1, steps + 1):
            idx = torch.randint(len(examples), (batch_size,), generator=gen).tolist()
            loss = attacked(**collate([examples[i] for i in idx], tokenizer.pad_token_id,
                                      device)).loss
            if not torch.isfinite(loss):
                raise FloatingPointError(f"relearn {variant}: loss is {loss.item()} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        attacked.eval()
        after = _recall(attacked, tokenizer, measured, device)
        for phase, correct in (("before", before), ("after", after)):
            frame = measured.assign(correct=correct)
            for (split, title, intent), g in frame.groupby(["split", "title", "intent"],
                                                           sort=True):
                rows.append({"variant": variant, "split": split, "title": title,
                             "intent": intent, "phase": phase,
                             "recall": float(g.correct.mean()), "n": len(g),
                             "train_examples": len(examples), "steps": steps})
        del attacked
    return pd.DataFrame(rows)


def recovery_intervals(attacks: pd.DataFrame, rng_seed: int = 0) -> pd.DataFrame:
    """Per (method, variant): forget recall before and after the attack and the recovery
    (after - before, in [-1, 1]), each a design mean over the attacked seeds, forget films and
    facts (both template splits pooled per fact) with its crossed cluster-bootstrap interval
    (`intervals.design_interval`)."""
    per_fact = (attacks.assign(hits=attacks.recall * attacks.n)
                .groupby(["checkpoint", "variant", "title", "intent", "phase"], sort=True)
                .agg(hits=("hits", "sum"), n=("n", "sum")).reset_index())
    per_fact["recall"] = per_fact.hits / per_fact.n
    wide = per_fact.pivot_table(index=["checkpoint", "variant", "title", "intent"],
                                columns="phase", values="recall").reset_index()
    wide["recovery"] = wide["after"] - wide["before"]
    parsed = [run_of(c, single_seed=0) for c in wide.checkpoint]
    wide["method"], wide["seed"] = [m for m, _ in parsed], [s for _, s in parsed]
    rows = []
    for (method, variant), g in wide.groupby(["method", "variant"], sort=True):
        for value, lower in (("before", 0.0), ("after", 0.0), ("recovery", -1.0)):
            rows.append({"method": method, "variant": variant, "metric": value,
                         **design_interval(g, value=value, seed="seed", cluster="title",
                                           unit="intent", lower=lower, upper=1.0,
                                           rng_seed=rng_seed)})
    return pd.DataFrame(rows)
