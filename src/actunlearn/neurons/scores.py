"""Per-neuron importance for a concept: saliency (grad x activation) and diagonal Fisher.

The objective is the log-likelihood of the gold answers (not a mean of logits): a neuron matters
for the concept if changing it changes how likely the model is to produce the concept's answers.
For MLP neuron f of layer l, sample s with answer log-likelihood L_s and activation a[t, f]:
- saliency_f = mean_s | sum_t a[t, f] * dL_s/da[t, f] |   (first-order effect of ablating f)
- fisher_f   = mean_s sum_d (dL_s/dW[d, f])^2, W = down_proj weight   (empirical diagonal Fisher
  of the weights that read neuron f, summed over the column)
- ssd_ratio_f = fisher_forget_f / fisher_retain_f (Selective Synaptic Dampening's importance ratio;
  null, with a note, where the retain Fisher is zero)
Gradient sensitivity: per layer, mean_s ||dL_s/d resid||_F over all positions, and the same for
the input embeddings (layer -1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from actunlearn.models.encoding import batches, collate, qa_example
from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers
from actunlearn.models.scoring import token_logprobs


def _frozen(model):
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    return flags


def _restore(model, flags):
    for p, f in zip(model.parameters(), flags):
        p.requires_grad_(f)


@dataclass
class ConceptScores:
    saliency: torch.Tensor   # [layers, neurons]
    fisher: torch.Tensor     # [layers, neurons]
    resid_grad: torch.Tensor  # [layers]: mean per-sample gradient norm w.r.t. the residual stream
    embed_grad: float         # the same w.r.t. the input embeddings


def concept_scores(model, examples, pad_id: int, batch_size: int = 32, device: str = "cpu"
                   ) -> ConceptScores:
    """Saliency, Fisher and gradient norms, averaged over the examples' sequences."""
    if not examples:
        raise ValueError("concept_scores needs at least one example")
    n_layers = len(decoder_layers(model))
    neurons = model.config.intermediate_size
    sal = torch.zeros(n_layers, neurons, dtype=torch.float64)
    fis = torch.zeros(n_layers, neurons, dtype=torch.float64)
    resid = torch.zeros(n_layers, dtype=torch.float64)
    embed = 0.0
    flags = _frozen(model)
    try:
        for chunk in batches(examples, batch_size):
            b = collate(chunk, pad_id, device)
            with capture(model, resid=True, mlp=True, mlp_out=True, grad=True) as cap:
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
                lp, _ = token_logprobs(logits, b["labels"])
                lp.sum().backward()
            for i in range(n_layers):
                a, g = cap.mlp[i].detach().float(), cap.mlp[i].grad.float()
                sal[i] += (a * g).sum(1).abs().sum(0).double().cpu()
                go = cap.mlp_out[i].grad.float()
                gram = torch.einsum("btd,bsd->bts", go, go)
                fis[i] += (a * torch.einsum("bts,bsf->btf", gram, a)).sum((0, 1)).double().cpu()
                resid[i] += cap.resid[i].grad.float().flatten(1).norm(dim=1).sum().double().cpu()
            embed += cap.embeddings.grad.float().flatten(1).norm(dim=1).sum().item()
    finally:
        _restore(model, flags)
    n = len(examples)
    return ConceptScores(sal / n, fis / n, resid / n, embed / n)


def ssd_ratio(forget: np.ndarray, retain: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """forget / retain Fisher; null with a reason where the retain Fisher is zero."""
    forget, retain = np.asarray(forget, float), np.asarray(retain, float)
    defined = retain > 0
    ratio = pd.array(np.divide(forget, retain, out=np.zeros_like(forget), where=defined),
                     dtype="Float64")
    ratio[~defined] = pd.NA
    note = np.where(defined, None, np.where(forget > 0, "undefined: retain Fisher is 0",
                                            "undefined: no Fisher information at all"))
    return pd.Series(ratio), pd.Series(note, dtype=object)


def neuron_scores(model, forget_examples, retain_examples, pad_id: int, batch_size: int = 32,
                  device: str = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-neuron scores, per-layer gradient norms) on forget and on retain data."""
    f = concept_scores(model, forget_examples, pad_id, batch_size, device)
    r = concept_scores(model, retain_examples, pad_id, batch_size, device)
    layers, neurons = f.saliency.shape
    scores = pd.DataFrame({
        "layer": torch.arange(layers).repeat_interleave(neurons).numpy(),
        "neuron": torch.arange(neurons).repeat(layers).numpy(),
        "saliency_forget": f.saliency.flatten().numpy(),
        "saliency_retain": r.saliency.flatten().numpy(),
        "fisher_forget": f.fisher.flatten().numpy(), "fisher_retain": r.fisher.flatten().numpy(),
    })
    scores["ssd_ratio"], scores["ssd_note"] = ssd_ratio(scores.fisher_forget, scores.fisher_retain)
    grads = pd.DataFrame({
        "layer": [-1] + list(range(layers)),
        "where": ["embeddings"] + ["residual"] * layers,
        "grad_norm_forget": [f.embed_grad] + f.resid_grad.tolist(),
        "grad_norm_retain": [r.embed_grad] + r.resid_grad.tolist(),
    })
    return scores, grads


def concept_examples(tokenizer, prompts: pd.DataFrame, retain_prompts: int, seed: int
                     ) -> tuple[list, list]:
    """(forget, retain) question -> answer examples for scoring, from training templates only:
    every prompt of the forget role, and a seeded sample of `retain_prompts` neighbour and retain
    prompts."""
    train = prompts[prompts.split == "train"]
    forget = train[train.role == "forget"]
    others = train[train.role.isin(["neighbour", "retain"])]
    retain = others.sample(n=min(retain_prompts, len(others)), random_state=seed)
    return ([qa_example(tokenizer, q, a) for q, a in zip(forget.question, forget.answer)],
            [qa_example(tokenizer, q, a) for q, a in zip(retain.question, retain.answer)])
