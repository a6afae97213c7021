"""Per-neuron importance for a concept: saliency (grad x activation) and diagonal Fisher.

The objective is the log-likelihood of the gold answers (not a mean of logits): a neuron matters
for the concept if changing it changes how likely the model is to produce the concept's answers.
For MLP neuron f of layer l, sample s with answer log-likelihood L_s and activation a[t, f]:
- saliency_f = mean_s | sum_t a[t, f] * dL_s/da[t, f] |   (first-order effect of ablating f)
- fisher_f   = mean_s sum_d (dL_s/dW[d, f])^2, W = down_proj weight   (empirical diagonal Fisher
  of the weights that read neuron f, summed over the column)
"""

from __future__ import annotations

import pandas as pd
import torch

from actunlearn.hooks import capture
from actunlearn.modeling import batches, collate, decoder_layers, token_logprobs


def _frozen(model):
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    return flags


def _restore(model, flags):
    for p, f in zip(model.parameters(), flags):
        p.requires_grad_(f)


def concept_scores(model, examples, pad_id: int, batch_size: int = 32, device: str = "cpu"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(saliency, fisher), each [layers, neurons], averaged over the examples' sequences."""
    if not examples:
        raise ValueError("concept_scores needs at least one example")
    n_layers = len(decoder_layers(model))
    neurons = model.config.intermediate_size
    sal = torch.zeros(n_layers, neurons, dtype=torch.float64)
    fis = torch.zeros(n_layers, neurons, dtype=torch.float64)
    flags = _frozen(model)
    try:
        for chunk in batches(examples, batch_size):
            b = collate(chunk, pad_id, device)
            with capture(model, resid=False, mlp=True, mlp_out=True, grad=True) as cap:
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
                lp, _ = token_logprobs(logits, b["labels"])
                lp.sum().backward()
            for i in range(n_layers):
                a, g = cap.mlp[i].detach().float(), cap.mlp[i].grad.float()
                sal[i] += (a * g).sum(1).abs().sum(0).double().cpu()
                go = cap.mlp_out[i].grad.float()
                gram = torch.einsum("btd,bsd->bts", go, go)
                fis[i] += (a * torch.einsum("bts,bsf->btf", gram, a)).sum((0, 1)).double().cpu()
    finally:
        _restore(model, flags)
    return sal / len(examples), fis / len(examples)


def neuron_scores(model, forget_examples, retain_examples, pad_id: int, batch_size: int = 32,
                  device: str = "cpu") -> pd.DataFrame:
    """One row per (layer, neuron): saliency and Fisher on forget and on retain data."""
    sf, ff = concept_scores(model, forget_examples, pad_id, batch_size, device)
    sr, fr = concept_scores(model, retain_examples, pad_id, batch_size, device)
    layers, neurons = sf.shape
    return pd.DataFrame({
        "layer": torch.arange(layers).repeat_interleave(neurons).numpy(),
        "neuron": torch.arange(neurons).repeat(layers).numpy(),
        "saliency_forget": sf.flatten().numpy(), "saliency_retain": sr.flatten().numpy(),
        "fisher_forget": ff.flatten().numpy(), "fisher_retain": fr.flatten().numpy(),
    })
