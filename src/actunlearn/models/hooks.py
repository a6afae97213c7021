"""Named-module hooks that record activations (and their gradients) and always remove themselves.

Recorded per decoder layer i:
- resid[i]: the residual stream after block i (the block's output hidden state);
- mlp[i]:   the MLP neurons, i.e. the input of `layers.i.mlp.down_proj` (act(gate) * up);
- mlp_out[i]: the output of `layers.i.mlp.down_proj` (needed for per-neuron Fisher).

With `reduce`, what is recorded is `reduce(tensor)` computed inside the hook (e.g. pooling over
tokens), so the full activations of every layer are not kept alive until the pass ends.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from actunlearn.models.loading import decoder_layers


@dataclass
class Capture:
    """Recorded tensors by layer (or whatever `reduce` returned for them)."""
    resid: dict[int, Any] = field(default_factory=dict)
    mlp: dict[int, Any] = field(default_factory=dict)
    mlp_out: dict[int, Any] = field(default_factory=dict)
    embeddings: torch.Tensor | None = None


def _first(output):
    """Decoder layers return a tensor in transformers 5 and a tuple before."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _keep(tensor: torch.Tensor, grad: bool, reduce=None):
    if reduce is not None:
        return reduce(tensor.detach())
    if grad:
        if not tensor.requires_grad:
            raise RuntimeError("gradient capture needs a graph: run inside capture(..., grad=True)")
        tensor.retain_grad()
        return tensor
    return tensor.detach()


@contextmanager
def capture(model, layers: list[int] | None = None, resid: bool = True, mlp: bool = True,
            mlp_out: bool = False, grad: bool = False,
            reduce: Callable[[torch.Tensor], Any] | None = None):
    """Record activations of the chosen layers during forward passes inside the block.

    With grad=True the input embeddings are made to require grad (parameters may stay frozen), so
    every recorded tensor gets a `.grad` after backward().

    With `reduce`, each hook records `reduce(tensor)` instead of the tensor (computed on the fly;
    `reduce` must not modify its argument, which the model still uses). Not with grad=True.
    """
    if grad and reduce is not None:
        raise ValueError("capture(reduce=...) records no graph tensors: not with grad=True")
    blocks = decoder_layers(model)
    layers = list(range(len(blocks))) if layers is None else list(layers)
    store, handles = Capture(), []

    def on_resid(i):
        def hook(module, args, output):
            store.resid[i] = _keep(_first(output), grad, reduce)
        return hook

    def on_mlp_in(i):
        def hook(module, args):
            store.mlp[i] = _keep(args[0], grad, reduce)
        return hook

    def on_mlp_out(i):
        def hook(module, args, output):
            store.mlp_out[i] = _keep(output, grad, reduce)
        return hook

    def on_embed(module, args, output):
        if not output.requires_grad:
            output = output.detach().requires_grad_(True)
        output.retain_grad()
        store.embeddings = output
        return output

    try:
        if grad:
            handles.append(model.get_input_embeddings().register_forward_hook(on_embed))
        for i in layers:
            block = blocks[i]
            if resid:
                handles.append(block.register_forward_hook(on_resid(i)))
            if mlp:
                handles.append(block.mlp.down_proj.register_forward_pre_hook(on_mlp_in(i)))
            if mlp_out:
                handles.append(block.mlp.down_proj.register_forward_hook(on_mlp_out(i)))
        yield store
    finally:
        for h in handles:
            h.remove()
