"""Activation dampening of ranked neurons, persisted into the weights (the original prototype).

For the top-k ranked neurons f of each chosen layer l, column f of `layers.l.mlp.down_proj.weight`
(the weights that read neuron f) is multiplied by `scale`: the model then behaves exactly as if
neuron f's activation were multiplied by `scale` (down_proj is linear with no bias on the
Llama/Qwen MLP). No training; scale 0 removes the neurons' contribution entirely.
"""

from __future__ import annotations

import time

import torch

from actunlearn.models.loading import decoder_layers
from actunlearn.neurons.ranking import top_neurons
from actunlearn.unlearning.loop import probe_recall
from actunlearn.unlearning.methods.registry import UnlearnContext, UnlearnResult, register, resolve_layers


def recall_row(model, data, pad_id: int, device: str, step: int, start: float, **parts) -> dict:
    """A log row of a method that edits weights without training: forget / retain recall on the
    check sets (`unlearn.probe_recall`), no steps, no trainable parameters."""
    forget, retain = probe_recall(model, data, pad_id, device)
    return {"step": step, "trainable_params": 0, "steps": 0, **parts, "forget_recall": forget,
            "retain_recall": retain, "seconds": time.perf_counter() - start}


@torch.no_grad()
def dampen_columns(model, masks: dict[int, list[int]], scale: float) -> int:
    """Multiply the masked down_proj columns by `scale`; returns how many weights changed."""
    blocks = decoder_layers(model)
    edited = 0
    for layer, neurons in masks.items():
        if not neurons:
            continue
        weight = blocks[layer].mlp.down_proj.weight
        cols = torch.tensor(neurons, dtype=torch.long, device=weight.device)
        before = weight[:, cols].clone()
        weight[:, cols] = before * scale
        edited += int((weight[:, cols] != before).sum())
    return edited


@register("dampen", deterministic=True, ranks_neurons=True)
def dampen(ctx: UnlearnContext) -> UnlearnResult:
    """down_proj columns of the top-k ranked neurons per chosen layer times `scale`."""
    cfg, model = ctx.cfg, ctx.model
    layers = resolve_layers(cfg["layers"], ctx.ranking, model.config.num_hidden_layers)
    masks = top_neurons(ctx.ranking, layers, cfg["top_k"])
    pad = ctx.tokenizer.pad_token_id
    start = time.perf_counter()
    log = [recall_row(model, ctx.data, pad, ctx.device, 0, start, effective_params=0,
                      edited_params=0)]
    edited = dampen_columns(model, masks, float(cfg["scale"]))
    log.append(recall_row(model, ctx.data, pad, ctx.device, 1, start, effective_params=edited,
                          edited_params=edited))
    return UnlearnResult(model.eval(), log,
                         {"neuron_mask.json": {str(k): v for k, v in masks.items()}})
