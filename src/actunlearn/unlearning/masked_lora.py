"""Activation-Guided Masked LoRA: a LoRA on `mlp.down_proj` whose input is masked to ranked neurons.

The mask is folded into lora_A: columns of unmasked neurons are zero at the start and their
gradients are zeroed, so they stay exactly zero under Adam/AdamW. A soft mask (`mask_scale` > 0,
the original notebook's 0.05) scales those columns' start and every optimizer *update* of them
(`SoftMask`): scaling their gradients would not do it, since Adam divides a constant gradient scale
out. The result is a standard PEFT LoRA adapter that `peft.PeftModel.from_pretrained` loads with no
project code.
"""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model

from actunlearn.models.loading import decoder_layers, seed_everything


def neuron_mask(neurons: list[int], size: int, off: float = 0.0) -> torch.Tensor:
    """1 for the selected neurons, `off` for the others (0: a hard mask)."""
    mask = torch.full((size,), float(off))
    mask[list(neurons)] = 1.0
    return mask


def lora_a(peft_model, layer: int) -> torch.nn.Parameter:
    module = decoder_layers(peft_model)[layer].mlp.down_proj
    return module.lora_A[next(iter(module.lora_A))].weight


def attach_masked_lora(model, masks: dict[int, list[int]], rank: int, alpha: float, seed: int,
                       mask_scale: float = 0.0):
    """Wrap `model` in a PEFT LoRA on down_proj of the masked layers, restricted to `masks`.
    `mask_scale` > 0 gives a soft mask: the other neurons' LoRA columns start scaled by it, and
    their updates are scaled by it once the optimizer is hooked (`SoftMask`)."""
    if not masks:
        raise ValueError("masked LoRA needs at least one layer with selected neurons")
    seed_everything(seed)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, bias="none",
                        target_modules=["down_proj"], layers_to_transform=sorted(masks),
                        layers_pattern="layers")
    peft_model = get_peft_model(model, config)
    neurons = model.config.intermediate_size
    for layer, selected in masks.items():
        weight = lora_a(peft_model, layer)
        mask = neuron_mask(selected, neurons, mask_scale).to(weight)
        with torch.no_grad():
            weight.mul_(mask)
        if mask_scale == 0:
            weight.register_hook(lambda grad, mask=mask: grad * mask)
    return peft_model


def effective_lora_params(peft_model, masks: dict[int, list[int]], mask_scale: float) -> int:
    """Trainable LoRA weights that can change: with a hard mask, lora_A columns outside the mask
    stay zero and do not count; a soft mask trains every column."""
    total = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    if mask_scale > 0:
        return total
    for layer, selected in masks.items():
        weight = lora_a(peft_model, layer)
        total -= weight.shape[0] * (weight.shape[1] - len(set(selected)))
    return total


class SoftMask:
    """Optimizer step hooks that scale each update of the unmasked lora_A columns by `scale`:
    after a step, w_off = w_off_before + scale * (w_off_after - w_off_before)."""

    def __init__(self, peft_model, masks: dict[int, list[int]], scale: float):
        self.scale = float(scale)
        self.columns = []
        for layer, selected in masks.items():
            weight = lora_a(peft_model, layer)
            off = ~neuron_mask(selected, weight.shape[1]).bool().to(weight.device)
            self.columns.append((weight, off))
        self.before: list[torch.Tensor] = []

    def register(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: self._save())
        optimizer.register_step_post_hook(lambda opt, args, kwargs: self._scale())

    @torch.no_grad()
    def _save(self) -> None:
        self.before = [w[:, off].clone() for w, off in self.columns]

    @torch.no_grad()
    def _scale(self) -> None:
        for (w, off), before in zip(self.columns, self.before):
            w[:, off] = before + self.scale * (w[:, off] - before)


def unmasked_columns_zero(peft_model, masks: dict[int, list[int]]) -> bool:
    """True when every lora_A column outside the mask is exactly zero."""
    for layer, selected in masks.items():
        weight = lora_a(peft_model, layer)
        keep = neuron_mask(selected, weight.shape[1]).bool()
        if torch.count_nonzero(weight[:, ~keep]).item() != 0:
            return False
    return True
