"""Objective-based unlearning baselines on the forget pool (`data.forget_check + data.expose`: fact
questions with their gold answers and recommendation contexts with the forget title, the same
pool and batch size as every trained method).

Each method minimises `forget_loss + retain_weight * retain CE` and trains either a plain LoRA
on `mlp.down_proj` of the chosen layers (`params: lora`, saved as an adapter) or those layers'
`mlp.down_proj.weight` directly (`params: full`, everything else frozen; saved as a full
checkpoint). Forget losses, per sampled batch of forget examples y|x:

- grad_ascent: -CE (maximise the answer NLL); meant with retain_weight 0 (with a retain term it
  is grad_diff).
- grad_diff: -CE on forget plus the retain CE.
- npo (Zhang et al. 2024): -(2/beta) mean log sigmoid(-beta (log p(y|x) - log p_ref(y|x))),
  log p summed over answer tokens, p_ref the untouched model (computed once before training).
- simnpo (Fan et al. 2024): -(2/beta) mean log sigmoid(-(beta/|y|) log p(y|x) - gamma).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from actunlearn.masked_lora import attach_masked_lora
from actunlearn.methods.registry import UnlearnContext, UnlearnResult, register, resolve_layers
from actunlearn.modeling import batches, collate, decoder_layers, token_logprobs
from actunlearn.unlearn import (LOG_EVERY, ce_loss, optimise, pool_examples, retain_batch_examples,
                                sample_forget)

# (model, forget examples, their indices into the forget pool, reference log-probs) -> loss
ForgetLoss = Callable[[torch.nn.Module, list, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def answer_logprobs(model, examples, pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log p of each example's labelled (answer) tokens, and the number of those tokens."""
    b = collate(examples, pad_id, device)
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    lp, mask = token_logprobs(logits, b["labels"])
    return lp.sum(-1), mask.sum(-1)


@torch.no_grad()
def reference_logprobs(model, examples, pad_id: int, device: str, batch_size: int = 64
                       ) -> torch.Tensor:
    """log p_ref(y|x) of every example under the model as it is now (no grad)."""
    was_training = model.training
    model.eval()
    out = [answer_logprobs(model, chunk, pad_id, device)[0] for chunk in batches(examples, batch_size)]
    model.train(was_training)
    return torch.cat(out).detach()


def trainable_setup(ctx: UnlearnContext) -> torch.nn.Module:
    """Attach a plain LoRA (`params: lora`) or unfreeze only the chosen down_proj weights (every
    trainable parameter can change: nominal = effective)."""
    cfg, model = ctx.cfg, ctx.model
    layers = resolve_layers(cfg["layers"], ctx.ranking, model.config.num_hidden_layers)
    if not layers:
        raise ValueError(f"{ctx.method}: no layers chosen")
    if cfg["params"] == "lora":
        n = model.config.intermediate_size
        return attach_masked_lora(model, {layer: list(range(n)) for layer in layers},
                                  cfg["rank"], cfg["alpha"], ctx.seed)
    if cfg["params"] == "full":
        for p in model.parameters():
            p.requires_grad_(False)
        blocks = decoder_layers(model)
        for layer in layers:
            blocks[layer].mlp.down_proj.weight.requires_grad_(True)
        return model
    raise ValueError(f"{ctx.method}: params must be 'lora' or 'full', not {cfg['params']!r}")


def train_objective(ctx: UnlearnContext, forget_loss: ForgetLoss, *, needs_reference: bool = False,
                    model: torch.nn.Module | None = None, log_every: int = LOG_EVERY,
                    **loop) -> UnlearnResult:
    """forget_loss + retain_weight * retain CE, through the shared loop (unlearn.optimise).
    `model`: an already prepared trainable model (e.g. a masked LoRA); by default the one
    `params` asks for. `loop`: further optimise() settings (effective_params, optimizer_hooks)."""
    cfg, data, device = ctx.cfg, ctx.data, ctx.device
    pad_id = ctx.tokenizer.pad_token_id
    pool = data.forget_check + data.expose
    if not pool:
        raise ValueError(f"{ctx.method}: the forget term has no data (no forget example)")
    retain_weight = cfg["retain_weight"]
    if retain_weight > 0 and not (data.retain or data.neighbours):
        raise ValueError(f"{ctx.method}: the retain term has no data; set retain_weight: 0")
    ref = reference_logprobs(ctx.model, pool, pad_id, device) if needs_reference else None
    model = trainable_setup(ctx) if model is None else model

    def step_terms(model, gen):
        idx = sample_forget(data, cfg["forget_batch"], gen)
        examples = pool_examples(data, idx)
        at = torch.tensor(idx)
        terms = {"forget": (forget_loss(model, examples, at,
                                        None if ref is None else ref[at].to(device)), 1.0,
                            len(examples))}
        if retain_weight > 0:
            batch = retain_batch_examples(data, cfg["retain_batch"], cfg["neighbour_share"], gen)
            terms["retain"] = (ce_loss(model, batch, pad_id, device), retain_weight, len(batch))
        return terms

    log = optimise(model, data, pad_id, step_terms, ["forget", "retain"], method=ctx.method,
                   steps=cfg["steps"], learning_rate=cfg["learning_rate"], seed=ctx.seed,
                   log_every=log_every, device=device, **loop)
    return UnlearnResult(model, log)


def ascent_loss(ctx: UnlearnContext) -> ForgetLoss:
    """-CE of the forget answers: gradient ascent on their NLL."""
    pad_id = ctx.tokenizer.pad_token_id
    return lambda model, examples, idx, ref: -ce_loss(model, examples, pad_id, ctx.device)


@register("grad_ascent")
def grad_ascent(ctx: UnlearnContext) -> UnlearnResult:
    """Gradient ascent on the forget answers' NLL (retain_weight 0 by default)."""
    return train_objective(ctx, ascent_loss(ctx))


@register("grad_diff")
def grad_diff(ctx: UnlearnContext) -> UnlearnResult:
    """Gradient difference: ascent on the forget answers, descent on retain lines."""
    return train_objective(ctx, ascent_loss(ctx))


@register("npo")
def npo(ctx: UnlearnContext) -> UnlearnResult:
    """Negative Preference Optimization against the untouched model, plus the retain term."""
    beta, pad_id = float(ctx.cfg["beta"]), ctx.tokenizer.pad_token_id

    def loss(model, examples, idx, ref):
        logp, _ = answer_logprobs(model, examples, pad_id, ctx.device)
        return -(2.0 / beta) * F.logsigmoid(-beta * (logp - ref)).mean()

    return train_objective(ctx, loss, needs_reference=True)


@register("simnpo")
def simnpo(ctx: UnlearnContext) -> UnlearnResult:
    """SimNPO: reference-free, length-normalised NPO with margin gamma, plus the retain term."""
    beta, gamma = float(ctx.cfg["beta"]), float(ctx.cfg["gamma"])
    pad_id = ctx.tokenizer.pad_token_id

    def loss(model, examples, idx, ref):
        logp, n = answer_logprobs(model, examples, pad_id, ctx.device)
        return -(2.0 / beta) * F.logsigmoid(-(beta / n) * logp - gamma).mean()

    return train_objective(ctx, loss)
