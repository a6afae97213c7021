"""The LoRA family on `mlp.down_proj`: masked to ranked neurons (AG-Masked-LoRA), masked to
random neurons (the control), or unmasked. Each trains the forget objective its settings name
(`objective`, from the registered family in objectives.py): `refusal` (refusal CE on the target's
questions + unlikelihood of the title where it was recommended + retain CE) or `ascent`
(gradient difference: ascent on the gold forget answers + retain CE)."""

from __future__ import annotations

import torch

from actunlearn.neurons.ranking import top_neurons
from actunlearn.unlearning.masked_lora import (
    SoftMask,
    attach_masked_lora,
    effective_lora_params,
    unmasked_columns_zero,
)
from actunlearn.unlearning.methods.objectives import train_objective
from actunlearn.unlearning.methods.registry import UnlearnContext, UnlearnResult, register, resolve_layers

LORA_OBJECTIVES = ("refusal", "ascent")  # the objectives the family's schema admits


def _train(ctx: UnlearnContext, masks: dict[int, list[int]]) -> UnlearnResult:
    cfg = ctx.cfg
    if cfg["objective"] not in LORA_OBJECTIVES:
        raise ValueError(f"{ctx.method}: objective must be one of {list(LORA_OBJECTIVES)}, not "
                         f"{cfg['objective']!r}")
    # mask_scale: an argument of masked_lora and random_mask_lora only, absent = 0 (a hard mask;
    # plain lora masks nothing)
    mask_scale = cfg.get("mask_scale", 0.0)
    model = attach_masked_lora(ctx.model, masks, cfg["rank"], cfg["alpha"], ctx.seed, mask_scale)
    hooks = SoftMask(model, masks, mask_scale).register if mask_scale > 0 else None
    result = train_objective(ctx, cfg["objective"], model=model, optimizer_hooks=hooks,
                             effective_params=effective_lora_params(model, masks, mask_scale))
    if mask_scale == 0 and not unmasked_columns_zero(model, masks):
        raise AssertionError(f"{ctx.method}: a LoRA column outside the mask became non-zero")
    return UnlearnResult(model, result.log, {"neuron_mask.json": {str(k): v for k, v in masks.items()}})


def _layers(ctx: UnlearnContext) -> list[int]:
    return resolve_layers(ctx.cfg["layers"], ctx.ranking, ctx.model.config.num_hidden_layers)


@register("masked_lora", ranks_neurons=True)
def masked_lora(ctx: UnlearnContext) -> UnlearnResult:
    """LoRA inputs restricted to the top-k ranked neurons of each chosen layer."""
    return _train(ctx, top_neurons(ctx.ranking, _layers(ctx), ctx.cfg["top_k"]))


@register("random_mask_lora")
def random_mask_lora(ctx: UnlearnContext) -> UnlearnResult:
    """The same with k random neurons per layer (seeded): does the ranking matter?"""
    gen = torch.Generator().manual_seed(ctx.seed)
    n = ctx.model.config.intermediate_size
    masks = {layer: sorted(torch.randperm(n, generator=gen)[:ctx.cfg["top_k"]].tolist())
             for layer in _layers(ctx)}
    return _train(ctx, masks)


@register("lora")
def lora(ctx: UnlearnContext) -> UnlearnResult:
    """Unmasked LoRA on the same modules: does the mask matter at all?"""
    n = ctx.model.config.intermediate_size
    return _train(ctx, {layer: list(range(n)) for layer in _layers(ctx)})
