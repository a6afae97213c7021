"""Selective Synaptic Dampening (Foster et al. 2024), adapted to the LLM testbed.

What is computed, exactly:
- the parameters P: every parameter (weight, and bias if any) of the modules named in config
  `modules` (paths relative to a decoder block, e.g. `mlp.down_proj`) in every decoder layer, and
  the token embedding matrix when `modules` holds `embed_tokens` (tied to the output head in the
  testbed, so its rows also produce the answer tokens);
- for a set of examples S (question -> gold answer; only answer tokens are labelled), the
  empirical diagonal Fisher of each parameter element theta_j:
      F_S[j] = (1/|S|) * sum_{s in S} (d L_s / d theta_j)^2,
  with L_s = sum over the labelled tokens of s of log p(token | prefix) (the answer
  log-likelihood), one backward pass per example (batch of 1, no padding), so this is the mean of
  per-example squared gradients, never the square of a batch gradient;
- F_forget on `data.forget_check`, F_retain on `data.retain_check` (a seeded sample of retain
  questions: the seed varies this sample, the method's one stochastic input);
- for every element with F_forget[j] > alpha * F_retain[j]:
      theta_j <- theta_j * min(dampening * F_retain[j] / F_forget[j], 1)
  (`dampening` is SSD's lambda); all other elements, including any with F_forget = 0, are left
  untouched. No training.
"""

from __future__ import annotations

import time

import torch

from actunlearn.models.encoding import collate
from actunlearn.models.loading import decoder_layers
from actunlearn.models.scoring import token_logprobs
from actunlearn.unlearning.methods.dampen import recall_row
from actunlearn.unlearning.methods.registry import UnlearnContext, UnlearnResult, register


def selected_parameters(model, modules: list[str]) -> dict[str, torch.nn.Parameter]:
    """`layers.<i>.<module>.<param>` -> parameter, for every decoder layer and named module."""
    out = {}
    if "embed_tokens" in modules:
        out["embed_tokens.weight"] = model.get_input_embeddings().weight
        modules = [m for m in modules if m != "embed_tokens"]
    for i, block in enumerate(decoder_layers(model)):
        for name in modules:
            try:
                module = block.get_submodule(name)
            except AttributeError:
                raise ValueError(f"ssd: unknown module {name!r} in decoder layer {i} "
                                 f"(config unlearn.methods.ssd.modules)") from None
            params = dict(module.named_parameters())
            if not params:
                raise ValueError(f"ssd: module {name!r} has no parameters")
            for pname, p in params.items():
                out[f"layers.{i}.{name}.{pname}"] = p
    return out


def diagonal_fisher(model, params: dict[str, torch.nn.Parameter], examples, pad_id: int,
                    device: str = "cpu") -> dict[str, torch.Tensor]:
    """Mean over examples of the squared gradient of the answer log-likelihood (batch of 1)."""
    if not examples:
        raise ValueError("ssd: Fisher needs at least one example")
    names, tensors = list(params), list(params.values())
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in tensors:
        p.requires_grad_(True)
    fisher = [torch.zeros_like(p, dtype=torch.float64) for p in tensors]
    try:
        for example in examples:
            b = collate([example], pad_id, device)
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            lp, _ = token_logprobs(logits, b["labels"])
            grads = torch.autograd.grad(lp.sum(), tensors, allow_unused=True)
            for acc, g in zip(fisher, grads):
                if g is not None:
                    acc += g.double() ** 2
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
    return {n: f / len(examples) for n, f in zip(names, fisher)}


@torch.no_grad()
def apply_ssd(params: dict[str, torch.nn.Parameter], f_forget: dict[str, torch.Tensor],
              f_retain: dict[str, torch.Tensor], alpha: float, dampening: float) -> int:
    """theta *= min(dampening * F_r / F_f, 1) where F_f > alpha * F_r; returns how many."""
    count = 0
    for name, p in params.items():
        ff, fr = f_forget[name], f_retain[name]
        select = ff > alpha * fr
        factor = torch.where(select, (dampening * fr / ff.where(select, torch.ones_like(ff)))
                             .clamp(max=1.0), torch.ones_like(ff))
        p.mul_(factor.to(p.dtype))
        count += int(select.sum())
    return count


@register("ssd")
def ssd(ctx: UnlearnContext) -> UnlearnResult:
    """Selective Synaptic Dampening of the configured modules' parameters (see module doc)."""
    cfg, model = ctx.cfg, ctx.model
    pad = ctx.tokenizer.pad_token_id
    model.eval()
    params = selected_parameters(model, list(cfg["modules"]))
    start = time.perf_counter()
    log = [recall_row(model, ctx.data, pad, ctx.device, 0, start, effective_params=0,
                      edited_params=0, dampened_params=0)]
    f_forget = diagonal_fisher(model, params, ctx.data.forget_check, pad, ctx.device)
    f_retain = diagonal_fisher(model, params, ctx.data.retain_check, pad, ctx.device)
    before = {n: p.detach().clone() for n, p in params.items()}
    count = apply_ssd(params, f_forget, f_retain, float(cfg["alpha"]), float(cfg["dampening"]))
    edited = sum(int((p.detach() != before[n]).sum()) for n, p in params.items())
    log.append(recall_row(model, ctx.data, pad, ctx.device, 1, start, effective_params=edited,
                          edited_params=edited, dampened_params=count))
    return UnlearnResult(model.eval(), log)
