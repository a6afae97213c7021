"""The method registry: every unlearning method handler is a function registered by name.

Every handler has one calling convention: UnlearnContext -> UnlearnResult, its arguments read
from `ctx.cfg`, the method's resolved settings (`actunlearn.config.resolve_methods`: the handler's
name and every argument, family settings included). A config entry under `unlearn.methods` names
its handler, so one handler may run under several method names with different arguments.
Adding a handler is one module that registers a function plus one config entry (and the
handler's argument schema, `$defs.handlers.<name>` in workflow/schemas/config.schema.yaml). The
function receives a fresh base model and returns either a PEFT model (saved as a standard
adapter) or a plain model (saved as a full safetensors checkpoint), with a per-step log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from actunlearn.config import DETERMINISTIC_HANDLERS, RANKED_NEURON_HANDLERS, parse_checkpoint
from actunlearn.unlearning.data import UnlearnData, build_unlearn_data


@dataclass
class UnlearnContext:
    method: str                   # the method's name (unlearn.methods.<name>, the checkpoint's)
    model: torch.nn.Module        # the base model, freshly loaded; the method may modify it
    tokenizer: object
    data: UnlearnData
    ranking: pd.DataFrame | None  # None for a method that reads no ranking (config.reads_ranking)
    cfg: dict                     # resolved settings: {"handler": ..., argument: value, ...}
    seed: int
    device: str = "cpu"


@dataclass
class UnlearnResult:
    model: torch.nn.Module        # a peft.PeftModel (adapter) or a plain transformers model
    log: list[dict]
    extra: dict = field(default_factory=dict)  # JSON files written beside the checkpoint


METHODS: dict[str, Callable[[UnlearnContext], UnlearnResult]] = {}


def register(name: str, deterministic: bool = False, ranks_neurons: bool = False):
    """Register a method handler. `deterministic`: its output does not depend on the seed, so a
    study runs it once (with the first seed); the workflow reads that from
    `actunlearn.config.DETERMINISTIC_HANDLERS`, a light import, checked against this flag here.
    `ranks_neurons`: it picks neurons from the ranking (`actunlearn.config.RANKED_NEURON_HANDLERS`,
    likewise checked), so its job reads the ranking whatever its layer setting."""
    def wrap(fn):
        if name in METHODS:
            raise ValueError(f"unlearning method handler {name!r} registered twice")
        if deterministic != (name in DETERMINISTIC_HANDLERS):
            raise ValueError(f"unlearning method handler {name!r}: deterministic={deterministic} "
                             "disagrees with actunlearn.config.DETERMINISTIC_HANDLERS")
        if ranks_neurons != (name in RANKED_NEURON_HANDLERS):
            raise ValueError(f"unlearning method handler {name!r}: ranks_neurons={ranks_neurons} "
                             "disagrees with actunlearn.config.RANKED_NEURON_HANDLERS")
        METHODS[name] = fn
        return fn
    return wrap


def run_method(ctx: UnlearnContext) -> UnlearnResult:
    """Run the handler that the method's settings name (`ctx.cfg["handler"]`)."""
    if "handler" not in ctx.cfg:
        raise ValueError(f"unlearn: the settings of method {ctx.method!r} name no handler "
                         "(resolve them with actunlearn.config.resolve_methods)")
    handler = ctx.cfg["handler"]
    if handler not in METHODS:
        raise ValueError(f"unlearn: unknown handler {handler!r} (method {ctx.method!r}); "
                         f"registered: {sorted(METHODS)}")
    return METHODS[handler](ctx)


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


def unlearn_job(model, tokenizer, prompts: pd.DataFrame, corpus: pd.DataFrame,
                all_prompts: pd.DataFrame, catalog: pd.DataFrame, ranking: pd.DataFrame | None,
                own_answers: pd.DataFrame | None, method: str, cfg: dict, refusal: str,
                max_new_tokens: int, seed: int, device: str):
    """One unlearning run (the `unlearn` rule): the forget/retain data from training templates
    only (`build_unlearn_data`), then the method's handler. Returns (result, data); `data.manifest`
    lists every prompt and corpus line the run used."""
    data = build_unlearn_data(tokenizer, prompts, corpus, refusal, seed=seed,
                              own_answers=own_answers, recommendations=all_prompts,
                              titles=catalog.title.tolist(), max_new_tokens=max_new_tokens,
                              device=device)
    return run_method(UnlearnContext(method, model, tokenizer, data, ranking, cfg, seed, device)), data


def log_frame(log: list[dict], checkpoint: str) -> pd.DataFrame:
    """A run's per-step log as a table, keyed by checkpoint name (checkpoint_name), method, seed."""
    method, seed = parse_checkpoint(checkpoint)
    return pd.DataFrame(log).assign(checkpoint=checkpoint, method=method, seed=seed).pipe(
        lambda f: f[["checkpoint", "method", "seed", *[c for c in f if c not in
                                                        ("checkpoint", "method", "seed")]]])
