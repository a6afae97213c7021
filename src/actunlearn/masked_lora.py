"""Activation-Guided Masked LoRA: a LoRA on `mlp.down_proj` whose input is masked to ranked neurons.

The mask is folded into lora_A: columns of unmasked neurons are zero at the start and their
gradients are zeroed, so they stay exactly zero under Adam/AdamW. The result is a standard PEFT
LoRA adapter that `peft.PeftModel.from_pretrained` loads with no project code.
"""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model

from actunlearn.modeling import decoder_layers, seed_everything


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
    `mask_scale` > 0 gives a soft mask (the original notebook's 0.05): the other neurons' LoRA
    columns start and learn scaled by it instead of being held at zero."""
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
        weight.register_hook(lambda grad, mask=mask: grad * mask)
    return peft_model


def unmasked_columns_zero(peft_model, masks: dict[int, list[int]]) -> bool:
    """True when every lora_A column outside the mask is exactly zero."""
    for layer, selected in masks.items():
        weight = lora_a(peft_model, layer)
        keep = neuron_mask(selected, weight.shape[1]).bool()
        if torch.count_nonzero(weight[:, ~keep]).item() != 0:
            return False
    return True
