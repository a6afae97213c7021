"""Unlearning data and training loop.

Objective, per step: a refusal target on questions about the forget target, an unlikelihood term
that pushes down p(target title) where it would be recommended, and a retain term on corpus lines
that do not mention the target (statements with full LM loss, questions with answer loss).
Measuring only the refusal text would miss that the title is still recommended, hence the second
term.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch

from actunlearn.modeling import (collate, qa_example, teacher_forced_correct, text_example,
                                 token_logprobs)


@dataclass
class UnlearnData:
    refuse: list      # (ids, labels): forget question -> refusal
    expose: list      # (ids, labels): recommendation prompt -> target title (to push down)
    retain: list      # (ids, labels): retain corpus lines about other films
    neighbours: list  # (ids, labels): retain corpus lines about neighbour films
    forget_check: list  # (ids, labels): forget question -> gold answer (recall probe)
    retain_check: list  # (ids, labels): retain question -> gold answer (recall probe)


def build_unlearn_data(tokenizer, prompts: pd.DataFrame, corpus: pd.DataFrame, refusal: str,
                       retain_check: int = 200, seed: int = 0,
                       own_answers: pd.DataFrame | None = None) -> UnlearnData:
    """Everything comes from training templates (split='train'): held-out ones stay unseen.
    The retain lines are the corpus (what the testbed was trained on) or, with `own_answers`
    (the base model's greedy answers from the knowledge check: question, response, role,
    split), the model's own answers to questions about neighbour and retain films: for a
    pretrained model, which never saw the corpus, keeping its behaviour means keeping those."""
    forget_titles = set(prompts.title[prompts.role == "forget"])
    train = prompts[prompts.split == "train"]
    forget_q = train[train.role == "forget"]
    exposed = train[(train.role != "forget") & (train.intent == "recommend")
                    & train.gold.apply(lambda g: any(t in forget_titles for t in g))]
    expose = []
    for q, gold in zip(exposed.question, exposed.gold):
        for title in gold:
            if title in forget_titles:
                expose.append(qa_example(tokenizer, q, title))
    if own_answers is None:
        lines = corpus[(corpus.split == "train") & ~corpus.forget]
        near = lines.title.isin(set(prompts.title[prompts.role == "neighbour"]))
        retain, neighbours = _encode_lines(tokenizer, lines[~near]), _encode_lines(tokenizer, lines[near])
    else:
        own = own_answers[(own_answers.split == "train") & own_answers.role.isin(["neighbour", "retain"])]
        if own.empty:
            raise ValueError("own_answers holds no neighbour or retain answers to keep")
        retain, neighbours = ([qa_example(tokenizer, q, a) for q, a in zip(g.question, g.response)]
                              for g in (own[own.role == "retain"], own[own.role == "neighbour"]))
    others = train[train.role.isin(["neighbour", "retain"])]
    others = others.sample(n=min(retain_check, len(others)), random_state=seed)
    return UnlearnData(
        refuse=[qa_example(tokenizer, q, refusal) for q in forget_q.question],
        expose=expose,
        retain=retain,
        neighbours=neighbours,
        forget_check=[qa_example(tokenizer, q, a) for q, a in zip(forget_q.question, forget_q.answer)],
        retain_check=[qa_example(tokenizer, q, a) for q, a in zip(others.question, others.answer)],
    )


def _encode_lines(tokenizer, lines: pd.DataFrame) -> list:
    """Corpus lines as trained: statements with LM loss, questions with answer loss."""
    return [qa_example(tokenizer, q, a) if kind == "qa" else text_example(tokenizer, text)
            for kind, q, a, text in zip(lines.kind, lines.question, lines.answer, lines.text)]


def retain_batch_examples(data: UnlearnData, size: int, neighbour_share: float,
                          gen: torch.Generator) -> list:
    """`size` retain lines, a `neighbour_share` of them about neighbour films (the facts most
    at risk, since they share the target's director or star)."""
    n_near = round(size * neighbour_share) if data.neighbours else 0
    return sample_examples(data.neighbours, n_near, gen) + sample_examples(data.retain, size - n_near, gen)


def sample_examples(items: list, n: int, gen: torch.Generator) -> list:
    idx = torch.randint(len(items), (n,), generator=gen).tolist()
    return [items[i] for i in idx]


def ce_loss(model, examples, pad_id: int, device: str) -> torch.Tensor:
    return model(**collate(examples, pad_id, device)).loss


def unlikelihood_loss(model, examples, pad_id: int, device: str) -> torch.Tensor:
    """mean -log(1 - p(sequence)): zero when the title is never produced, large when it is."""
    b = collate(examples, pad_id, device)
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    lp, _ = token_logprobs(logits, b["labels"])
    seq = lp.sum(-1)
    # log(1 - e^x), computed stably for x < 0
    log1mexp = torch.where(seq > -0.6931, torch.log(-torch.expm1(seq)), torch.log1p(-torch.exp(seq)))
    return -log1mexp.mean()


def check_finite(loss: torch.Tensor, method: str, step: int, name: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{method}: {name} loss is {loss.item()} at step {step}")


LOG_EVERY = 20  # steps between log rows (each probes forget and retain recall)

# One optimisation step's loss terms: name -> (loss, weight). Missing names count as 0.
StepTerms = Callable[[torch.nn.Module, torch.Generator], dict[str, tuple[torch.Tensor, float]]]


def optimise(model, data: UnlearnData, pad_id: int, step_terms: StepTerms, names: list[str], *,
             method: str, steps: int, learning_rate: float, seed: int, log_every: int = LOG_EVERY,
             device: str = "cpu") -> list[dict]:
    """The loop every trained method shares: AdamW on the weighted sum of the step's loss terms
    over the model's trainable parameters; every term and the total must be finite. Log rows
    (step 0 before training, then every `log_every` steps and the last): the loss, each term as
    `<name>_loss`, teacher-forced forget and retain recall, seconds, trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    log, start = [], time.perf_counter()

    def probe(step, parts):
        model.eval()
        f = teacher_forced_correct(model, data.forget_check, pad_id, device=device)
        r = teacher_forced_correct(model, data.retain_check, pad_id, device=device)
        model.train()
        log.append({"step": step, **parts, "forget_recall": sum(f) / len(f),
                    "retain_recall": sum(r) / len(r) if r else float("nan"),
                    "seconds": time.perf_counter() - start, "trainable_params": n_trainable})

    probe(0, {"loss": float("nan"), **{f"{n}_loss": float("nan") for n in names}})
    model.train()
    for step in range(1, steps + 1):
        terms = step_terms(model, gen)
        for name, (value, _) in terms.items():
            check_finite(value, method, step, name)
        loss = sum(weight * value for value, weight in terms.values())
        check_finite(loss, method, step, "total")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            probe(step, {"loss": loss.item(), **{
                f"{n}_loss": terms[n][0].item() if n in terms else 0.0 for n in names}})
    model.eval()
    return log


def train_unlearning(model, data: UnlearnData, pad_id: int, *, method: str, steps: int,
                     learning_rate: float, forget_batch: int, retain_batch: int,
                     unlikelihood_weight: float, retain_weight: float, neighbour_share: float,
                     seed: int, log_every: int = LOG_EVERY, device: str = "cpu") -> list[dict]:
    """The refusal objective: refusal CE + unlikelihood of the target title + retain CE."""

    def step_terms(model, gen):
        terms = {"refuse": (ce_loss(model, sample_examples(data.refuse, forget_batch, gen), pad_id,
                                    device), 1.0)}
        if data.expose and unlikelihood_weight > 0:
            terms["unlikelihood"] = (unlikelihood_loss(
                model, sample_examples(data.expose, forget_batch, gen), pad_id, device), unlikelihood_weight)
        if retain_weight > 0:
            batch = retain_batch_examples(data, retain_batch, neighbour_share, gen)
            terms["retain"] = (ce_loss(model, batch, pad_id, device), retain_weight)
        return terms

    return optimise(model, data, pad_id, step_terms, ["refuse", "unlikelihood", "retain"],
                    method=method, steps=steps, learning_rate=learning_rate, seed=seed,
                    log_every=log_every, device=device)
