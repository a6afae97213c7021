"""The method registry: every unlearning method is a function registered by name.

Adding a method is one module that registers a function (UnlearnContext -> UnlearnResult) plus
one config entry under `unlearn.methods` (and its schema). The function receives a fresh base
model and returns either a PEFT model (saved as a standard adapter) or a plain model (saved as a
full safetensors checkpoint), with a per-step log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from actunlearn.config import DETERMINISTIC_METHODS
from actunlearn.unlearn import UnlearnData


@dataclass
class UnlearnContext:
    method: str
    model: torch.nn.Module        # the base model, freshly loaded; the method may modify it
    tokenizer: object
    data: UnlearnData
    ranking: pd.DataFrame
    cfg: dict                     # this method's settings from config
    seed: int
    device: str = "cpu"


@dataclass
class UnlearnResult:
    model: torch.nn.Module        # a peft.PeftModel (adapter) or a plain transformers model
    log: list[dict]
    extra: dict = field(default_factory=dict)  # JSON files written beside the checkpoint


METHODS: dict[str, Callable[[UnlearnContext], UnlearnResult]] = {}


def register(name: str, deterministic: bool = False):
    """Register a method. `deterministic`: its output does not depend on the seed, so a study
    runs it once (with the first seed); the workflow reads that from
    `actunlearn.config.DETERMINISTIC_METHODS`, a light import, checked against this flag here."""
    def wrap(fn):
        if name in METHODS:
            raise ValueError(f"unlearning method {name!r} registered twice")
        if deterministic != (name in DETERMINISTIC_METHODS):
            raise ValueError(f"unlearning method {name!r}: deterministic={deterministic} "
                             "disagrees with actunlearn.config.DETERMINISTIC_METHODS")
        METHODS[name] = fn
        return fn
    return wrap


def run_method(ctx: UnlearnContext) -> UnlearnResult:
    if ctx.method not in METHODS:
        raise ValueError(f"unlearn: unknown method {ctx.method!r}; registered: {sorted(METHODS)}")
    return METHODS[ctx.method](ctx)


def resolve_layers(layers, ranking: pd.DataFrame, n_layers: int) -> list[int]:
    """`all`, `ranked` (the ranking's selected layers) or an explicit list."""
    if layers == "all":
        return list(range(n_layers))
    if layers == "ranked":
        return sorted(int(i) for i in set(ranking.layer[ranking.selected_layer]))
    bad = [int(i) for i in layers if not 0 <= int(i) < n_layers]
    if bad:
        # a pretrained model's depth is known only once it is loaded: checked here, not at start-up
        raise ValueError(f"layers {bad} do not exist (the model has {n_layers} layers)")
    return [int(i) for i in layers]


def save_result(result: UnlearnResult, out: str | Path, tokenizer, prov: dict) -> str:
    """Save an adapter (PEFT model) or a full checkpoint; returns which kind was saved."""
    out = Path(out)
    result.model.save_pretrained(out)
    kind = "adapter" if (out / "adapter_config.json").exists() else "full"
    if kind == "full":
        tokenizer.save_pretrained(out)
    for name, obj in result.extra.items():
        (out / name).write_text(json.dumps(obj))
    (out / "provenance.json").write_text(json.dumps(prov | {"checkpoint_kind": kind}, indent=2,
                                                    default=str))
    return kind
