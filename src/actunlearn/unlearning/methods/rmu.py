"""Representation Misdirection for Unlearning (Li et al. 2024, WMDP), on the testbed.

- Layer L (`layer`): an explicit decoder layer index, or `ranked` = the layer of the single
  highest-ranked neuron among the ranking's selected layers (rank 1 within selected_layer).
- Control vector c = steering_coef * u, u a fixed random unit vector of size hidden_size (uniform
  [0, 1) entries, as in the WMDP code, then normalised) from a generator seeded with ctx.seed.
- h(x): the residual stream after block L (actunlearn.models.hooks.capture, `resid`).
- loss = forget_loss + alpha * retain_loss, with
    forget_loss = mean over the steered positions and hidden dimensions of
                  (h_theta(x_forget) - c)^2; steered positions (`forget_positions`): `all`
                  non-padding tokens (as in the WMDP code), or `answer`: only the positions whose
                  next token is labelled (they predict the answer). With short templated prompts,
                  `all` also steers the template prefix that retain prompts share token for token,
                  which the retain term must then undo;
    retain_loss = the same mean of (h_theta(x_retain) - h_ref(x_retain))^2, h_ref from a frozen
                  copy of the base model (copy.deepcopy before training).
- Forget examples: the forget pool every trained method shares (data.forget_check, forget
  question -> gold answer, plus data.expose, recommendation prompt -> target title; sampled by
  unlearn.sample_forget); retain batches from retain_batch_examples.
- Trainable (`params`): `lora`, a plain LoRA (rank, lora_alpha) on `mlp.down_proj` of `update_layers`
  (a list of layer indices, each <= L, or `auto` = [L-1, L] clipped to >= 0): the LoRA family's
  adapter and parameter budget, the default, so that the method table compares objectives at
  one capacity; or `full`, those layers' whole `mlp.down_proj.weight` (as in the WMDP code, about
  6x the LoRA family's parameters on the testbed). AdamW, seeded sampling; every loss goes
  through check_finite.
"""

from __future__ import annotations

import copy

import torch

from actunlearn.models.encoding import IGNORE, collate
from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers
from actunlearn.unlearning.data import pool_examples, retain_batch_examples, sample_forget
from actunlearn.unlearning.loop import optimise
from actunlearn.unlearning.methods.objectives import trainable_setup
from actunlearn.unlearning.methods.registry import UnlearnContext, UnlearnResult, register


def rmu_layer(layer, ranking, n_layers: int) -> int:
    if layer == "ranked":
        chosen = ranking[ranking.selected_layer]
        if chosen.empty:
            raise ValueError("rmu: layer 'ranked' but the ranking selects no layer")
        layer = int(chosen.sort_values("rank").layer.iloc[0])
    layer = int(layer)
    if not 0 <= layer < n_layers:
        raise ValueError(f"rmu: layer {layer} does not exist (the model has {n_layers} layers)")
    return layer


def rmu_update_layers(update_layers, layer: int) -> list[int]:
    if update_layers == "auto":
        return sorted({max(layer - 1, 0), layer})
    out = sorted({int(i) for i in update_layers})
    bad = [i for i in out if i < 0 or i > layer]
    if bad or not out:
        raise ValueError(f"rmu: update_layers {bad or out} must be non-empty and within "
                         f"0..{layer} (layers after the steered one cannot change it)")
    return out


def steering_vector(hidden: int, coef: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(hidden, generator=gen)
    return coef * u / u.norm()


def layer_states(model, examples, pad_id: int, layer: int, device: str, grad: bool,
                 positions: str = "all"):
    """(residual stream after block `layer` [b, t, d], mask [b, t] of the positions to score:
    every non-padding token, or with positions="answer" those whose next token is labelled)."""
    b = collate(examples, pad_id, device)
    with capture(model, layers=[layer], resid=True, mlp=False, grad=grad) as cap:
        model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
    mask = b["attention_mask"]
    if positions == "answer":
        predicts_label = torch.zeros_like(mask)
        predicts_label[:, :-1] = (b["labels"][:, 1:] != IGNORE).long()
        mask = mask * predicts_label
    elif positions != "all":
        raise ValueError(f"rmu: forget_positions must be 'all' or 'answer', not {positions!r}")
    return cap.resid[layer], mask


def masked_mse(h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    per_pos = ((h.float() - target.float()) ** 2).mean(-1)
    m = mask.to(per_pos.dtype)
    return (per_pos * m).sum() / m.sum()


@register("rmu")
def rmu(ctx: UnlearnContext) -> UnlearnResult:
    """Steer layer L's forget activations to a random vector, keep retain activations (doc)."""
    cfg, model, data = ctx.cfg, ctx.model, ctx.data
    pad = ctx.tokenizer.pad_token_id
    blocks = decoder_layers(model)
    layer = rmu_layer(cfg["layer"], ctx.ranking, len(blocks))
    update = rmu_update_layers(cfg["update_layers"], layer)
    frozen = copy.deepcopy(model).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    model = trainable_setup(ctx, update, alpha_key="lora_alpha")
    target = steering_vector(model.config.hidden_size, float(cfg["steering_coef"]), ctx.seed)
    target = target.to(ctx.device)
    alpha = float(cfg["alpha"])
    positions = cfg["forget_positions"]

    def step_terms(model, gen):
        examples = pool_examples(data, sample_forget(data, cfg["forget_batch"], gen))
        h, mask = layer_states(model, examples, pad, layer, ctx.device, grad=True,
                               positions=positions)
        forget = masked_mse(h, target, mask)
        batch = retain_batch_examples(data, cfg["retain_batch"], cfg["neighbour_share"], gen)
        h, mask = layer_states(model, batch, pad, layer, ctx.device, grad=True)
        with torch.no_grad():
            ref, _ = layer_states(frozen, batch, pad, layer, ctx.device, grad=False)
        return {"forget": (forget, 1.0, len(examples)),
                "retain": (masked_mse(h, ref, mask), alpha, len(batch))}

    log = optimise(model, data, pad, step_terms, ["forget", "retain"], method=ctx.method,
                   steps=int(cfg["steps"]), learning_rate=cfg["learning_rate"], seed=ctx.seed,
                   device=ctx.device)
    model.eval()
    return UnlearnResult(model, log)
