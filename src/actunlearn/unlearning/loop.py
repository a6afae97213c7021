"""The training loop every trained method shares: optimise one step's loss terms, log, probe recall.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from actunlearn.models.encoding import collate
from actunlearn.models.scoring import teacher_forced_correct
from actunlearn.unlearning.data import UnlearnData


def ce_loss(model, examples, pad_id: int, device: str) -> torch.Tensor:
    return model(**collate(examples, pad_id, device)).loss


def check_finite(loss: torch.Tensor, method: str, step: int, name: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{method}: {name} loss is {loss.item()} at step {step}")


LOG_EVERY = 25  # steps between log rows (each probes forget and retain recall)


# One optimisation step's loss terms: name -> (loss, weight, examples it read). Missing names
# count as 0. The term named "retain" reads retain examples; every other term forget examples.
StepTerms = Callable[[torch.nn.Module, torch.Generator],
                     dict[str, tuple[torch.Tensor, float, int]]]


@torch.no_grad()
def probe_recall(model, data: UnlearnData, pad_id: int, device: str) -> tuple[float, float]:
    """(forget recall, retain recall) of `model` on the data's check questions: by its probe
    (greedy answers, entity matcher) or, without one, teacher-forced argmax."""
    model.eval()
    if data.probe is not None:
        return data.probe(model)
    f = teacher_forced_correct(model, data.forget_check, pad_id, device=device)
    r = teacher_forced_correct(model, data.retain_check, pad_id, device=device)
    return sum(f) / len(f), (sum(r) / len(r) if r else float("nan"))


def optimise(model, data: UnlearnData, pad_id: int, step_terms: StepTerms, names: list[str], *,
             method: str, steps: int, learning_rate: float, seed: int, log_every: int = LOG_EVERY,
             device: str = "cpu", effective_params: int | None = None,
             optimizer_hooks: Callable[[torch.optim.Optimizer], None] | None = None) -> list[dict]:
    """The loop every trained method shares: AdamW on the weighted sum of the step's loss terms
    over the model's trainable parameters; every term and the total must be finite. Log rows
    (step 0 before training, then every `log_every` steps and the last): the loss, each term as
    `<name>_loss`, forget and retain recall (`probe_recall`), seconds, trainable parameters
    (nominal, and `effective_params`: those that can change, e.g. without masked-out LoRA
    columns), `steps`, and the forget and retain examples the last step read.
    `optimizer_hooks` may register step hooks on the optimizer (e.g. a soft mask)."""
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    if optimizer_hooks is not None:
        optimizer_hooks(opt)
    gen = torch.Generator().manual_seed(seed)
    log, start = [], time.perf_counter()
    counts = {"forget_examples": 0, "retain_examples": 0}

    def probe(step, parts):
        forget, retain = probe_recall(model, data, pad_id, device)
        model.train()
        log.append({"step": step, **parts, "forget_recall": forget, "retain_recall": retain,
                    "seconds": time.perf_counter() - start, "trainable_params": n_trainable,
                    "effective_params": n_trainable if effective_params is None else effective_params,
                    "steps": steps, **counts})

    probe(0, {"loss": float("nan"), **{f"{n}_loss": float("nan") for n in names}})
    model.train()
    for step in range(1, steps + 1):
        terms = step_terms(model, gen)
        for name, (value, _, _) in terms.items():
            check_finite(value, method, step, name)
        counts = {"forget_examples": sum(n for k, (_, _, n) in terms.items() if k != "retain"),
                  "retain_examples": sum(n for k, (_, _, n) in terms.items() if k == "retain")}
        loss = sum(weight * value for value, weight, _ in terms.values())
        check_finite(loss, method, step, "total")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            probe(step, {"loss": loss.item(), **{
                f"{n}_loss": terms[n][0].item() if n in terms else None for n in names}})
    model.eval()
    return log
