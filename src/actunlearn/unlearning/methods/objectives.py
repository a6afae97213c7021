"""The forget objectives, one registered family, and the objective baselines that train them.

Every objective reads the shared forget pool (`data.forget_check + data.expose`: fact questions
with their gold answers and recommendation contexts with the forget title, the same pool and
batch size for every trained method) and is trained by `train_objective`: per step
`forget_batch` sampled pool items give the objective's loss terms, plus `retain_weight * retain
CE` on `retain_batch` retain lines, through the shared loop (`unlearn.optimise`). Objectives
(`OBJECTIVES`, registered with `@objective(name)`; each reads its weights from the method's
settings), per sampled batch of forget items y|x:

- refusal (the LoRA family's default): refusal CE on the fact questions among them (answer: the
  refusal), + unlikelihood_weight * -log(1 - p(title)) on the recommendation contexts among
  them (measuring only the refusal text would miss that the title is still recommended);
- ascent: -CE (maximise the answer NLL);
- npo (Zhang et al. 2024): -(2/beta) mean log sigmoid(-beta (log p(y|x) - log p_ref(y|x))),
  log p summed over answer tokens, p_ref the untouched model (computed once before training);
- simnpo (Fan et al. 2024): -(2/beta) mean log sigmoid(-(beta/|y|) log p(y|x) - gamma).

The objective baselines (methods grad_ascent, grad_diff, npo, simnpo) train an objective on
either a plain LoRA on `mlp.down_proj` of the chosen layers (`params: lora`, saved as an adapter)
or those layers' `mlp.down_proj.weight` directly (`params: full`, everything else frozen; saved as
a full checkpoint). grad_ascent and grad_diff both train `ascent` (grad_ascent is meant with
retain_weight 0: with a retain term it is grad_diff). The LoRA family (methods/lora.py) trains
refusal or ascent on its masked LoRA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from actunlearn.models.encoding import batches, collate
from actunlearn.models.loading import decoder_layers
from actunlearn.models.scoring import token_logprobs
from actunlearn.unlearning.data import pool_examples, retain_batch_examples, sample_forget
from actunlearn.unlearning.loop import LOG_EVERY, ce_loss, optimise
from actunlearn.unlearning.masked_lora import attach_masked_lora
from actunlearn.unlearning.methods.registry import UnlearnContext, UnlearnResult, register, resolve_layers

# (model, indices of the sampled forget-pool items) -> name -> (loss, weight, examples it read)
ForgetTerms = Callable[[torch.nn.Module, list[int]], dict[str, tuple[torch.Tensor, float, int]]]


@dataclass
class Objective:
    """A forget objective bound to one method's context: the loss terms of one step's sampled
    forget-pool items, and their names (logged as `<name>_loss`; a term a step lacks is None)."""
    names: list[str]
    terms: ForgetTerms


OBJECTIVES: dict[str, Callable[[UnlearnContext], Objective]] = {}


def objective(name: str):
    """Register a forget objective: a function UnlearnContext -> Objective that checks the data
    its terms need (an error naming the term, never a silent 0) and reads its settings."""
    def wrap(fn):
        if name in OBJECTIVES:
            raise ValueError(f"forget objective {name!r} registered twice")
        OBJECTIVES[name] = fn
        return fn
    return wrap


def forget_objective(ctx: UnlearnContext, name: str) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"{ctx.method}: unknown forget objective {name!r}; registered: "
                         f"{sorted(OBJECTIVES)}")
    return OBJECTIVES[name](ctx)


def answer_logprobs(model, examples, pad_id: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log p of each example's labelled (answer) tokens, and the number of those tokens."""
    b = collate(examples, pad_id, device)
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    lp, mask = token_logprobs(logits, b["labels"])
    return lp.sum(-1), mask.sum(-1)


@torch.no_grad()
def reference_logprobs(model, examples, pad_id: int, device: str, batch_size: int = 64
                       ) -> torch.Tensor:
    """log p_ref(y|x) of every example under the model as it is now (no grad)."""
    was_training = model.training
    model.eval()
    out = [answer_logprobs(model, chunk, pad_id, device)[0] for chunk in batches(examples, batch_size)]
    model.train(was_training)
    return torch.cat(out).detach()


def unlikelihood_loss(model, examples, pad_id: int, device: str) -> torch.Tensor:
    """mean -log(1 - p(sequence)): zero when the title is never produced, large when it is."""
    b = collate(examples, pad_id, device)
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    lp, _ = token_logprobs(logits, b["labels"])
    seq = lp.sum(-1)
    # log(1 - e^x), computed stably for x < 0
    log1mexp = torch.where(seq > -0.6931, torch.log(-torch.expm1(seq)), torch.log1p(-torch.exp(seq)))
    return -log1mexp.mean()


def _pool(ctx: UnlearnContext) -> list:
    pool = ctx.data.forget_check + ctx.data.expose
    if not pool:
        raise ValueError(f"{ctx.method}: the forget term has no data (no forget example)")
    return pool


@objective("refusal")
def refusal(ctx: UnlearnContext) -> Objective:
    """Refusal CE on the sampled fact questions, unlikelihood of the title on the sampled
    recommendation contexts (weight `unlikelihood_weight`; 0 turns the term off)."""
    data, pad_id, device = ctx.data, ctx.tokenizer.pad_token_id, ctx.device
    weight = ctx.cfg["unlikelihood_weight"]
    if not data.refuse:
        raise ValueError(f"{ctx.method}: the refusal term has no data (no forget fact question)")
    if weight > 0 and not data.expose:
        raise ValueError(f"{ctx.method}: the unlikelihood term has no data: no recommendation "
                         "context names a forget film; set unlikelihood_weight: 0 to train "
                         "without it")
    n_facts = len(data.forget_check)

    def terms(model, idx):
        facts = [data.refuse[i] for i in idx if i < n_facts]
        shown = [data.expose[i - n_facts] for i in idx if i >= n_facts]
        out = {}
        if facts:
            out["refuse"] = (ce_loss(model, facts, pad_id, device), 1.0, len(facts))
        if shown and weight > 0:
            out["unlikelihood"] = (unlikelihood_loss(model, shown, pad_id, device), weight,
                                   len(shown))
        return out

    return Objective(["refuse", "unlikelihood"], terms)


@objective("ascent")
def ascent(ctx: UnlearnContext) -> Objective:
    """-CE of the sampled forget answers: gradient ascent on their NLL."""
    _pool(ctx)
    data, pad_id, device = ctx.data, ctx.tokenizer.pad_token_id, ctx.device

    def terms(model, idx):
        examples = pool_examples(data, idx)
        return {"forget": (-ce_loss(model, examples, pad_id, device), 1.0, len(examples))}

    return Objective(["forget"], terms)


@objective("npo")
def npo_objective(ctx: UnlearnContext) -> Objective:
    """NPO against the model as it is when the objective is bound (the untouched model)."""
    pool = _pool(ctx)
    beta, pad_id, device = float(ctx.cfg["beta"]), ctx.tokenizer.pad_token_id, ctx.device
    ref = reference_logprobs(ctx.model, pool, pad_id, device)

    def terms(model, idx):
        examples = pool_examples(ctx.data, idx)
        logp, _ = answer_logprobs(model, examples, pad_id, device)
        loss = -(2.0 / beta) * F.logsigmoid(-beta * (logp - ref[torch.tensor(idx)].to(device))).mean()
        return {"forget": (loss, 1.0, len(examples))}

    return Objective(["forget"], terms)


@objective("simnpo")
def simnpo_objective(ctx: UnlearnContext) -> Objective:
    """SimNPO: reference-free, length-normalised NPO with margin gamma."""
    _pool(ctx)
    beta, gamma = float(ctx.cfg["beta"]), float(ctx.cfg["gamma"])
    pad_id, device = ctx.tokenizer.pad_token_id, ctx.device

    def terms(model, idx):
        examples = pool_examples(ctx.data, idx)
        logp, n = answer_logprobs(model, examples, pad_id, device)
        loss = -(2.0 / beta) * F.logsigmoid(-(beta / n) * logp - gamma).mean()
        return {"forget": (loss, 1.0, len(examples))}

    return Objective(["forget"], terms)


def trainable_setup(ctx: UnlearnContext, layers: list[int] | None = None,
                    alpha_key: str = "alpha") -> torch.nn.Module:
    """Attach a plain LoRA (`params: lora`: settings rank and `alpha_key`) or unfreeze only the
    chosen down_proj weights (every trainable parameter can change: nominal = effective), on
    `layers` (default: the method's `layers` setting)."""
    cfg, model = ctx.cfg, ctx.model
    if layers is None:
        layers = resolve_layers(cfg["layers"], ctx.ranking, model.config.num_hidden_layers)
    if not layers:
        raise ValueError(f"{ctx.method}: no layers chosen")
    if cfg["params"] == "lora":
        n = model.config.intermediate_size
        return attach_masked_lora(model, {layer: list(range(n)) for layer in layers},
                                  cfg["rank"], cfg[alpha_key], ctx.seed)
    if cfg["params"] == "full":
        model.requires_grad_(False)
        blocks = decoder_layers(model)
        for layer in layers:
            blocks[layer].mlp.down_proj.weight.requires_grad_(True)
        return model
    raise ValueError(f"{ctx.method}: params must be 'lora' or 'full', not {cfg['params']!r}")


def train_objective(ctx: UnlearnContext, name: str, *, model: torch.nn.Module | None = None,
                    log_every: int = LOG_EVERY, **loop) -> UnlearnResult:
    """The forget objective `name` + retain_weight * retain CE, through the shared loop
    (unlearn.optimise), with the method's settings (`ctx.cfg`: steps, learning_rate,
    forget_batch, retain_batch, neighbour_share, retain_weight and the objective's own).
    `model`: an already prepared trainable model (e.g. a masked LoRA); by default the one
    `params` asks for (`trainable_setup`, after the objective is bound: NPO's reference is the
    untouched model). `loop`: further optimise() settings (effective_params, optimizer_hooks)."""
    cfg, data, device = ctx.cfg, ctx.data, ctx.device
    pad_id = ctx.tokenizer.pad_token_id
    forget = forget_objective(ctx, name)
    retain_weight = cfg["retain_weight"]
    if retain_weight > 0 and not (data.retain or data.neighbours):
        raise ValueError(f"{ctx.method}: the retain term has no data; set retain_weight: 0")
    model = trainable_setup(ctx) if model is None else model

    def step_terms(model, gen):
        terms = forget.terms(model, sample_forget(data, cfg["forget_batch"], gen))
        if retain_weight > 0:
            batch = retain_batch_examples(data, cfg["retain_batch"], cfg["neighbour_share"], gen)
            terms["retain"] = (ce_loss(model, batch, pad_id, device), retain_weight, len(batch))
        return terms

    log = optimise(model, data, pad_id, step_terms, forget.names + ["retain"], method=ctx.method,
                   steps=cfg["steps"], learning_rate=cfg["learning_rate"], seed=ctx.seed,
                   log_every=log_every, device=device, **loop)
    return UnlearnResult(model, log)


@register("grad_ascent")
def grad_ascent(ctx: UnlearnContext) -> UnlearnResult:
    """Gradient ascent on the forget answers' NLL (retain_weight 0 in the default config)."""
    return train_objective(ctx, "ascent")


@register("grad_diff")
def grad_diff(ctx: UnlearnContext) -> UnlearnResult:
    """Gradient difference: ascent on the forget answers, descent on retain lines."""
    return train_objective(ctx, "ascent")


@register("npo")
def npo(ctx: UnlearnContext) -> UnlearnResult:
    """Negative Preference Optimization against the untouched model, plus the retain term."""
    return train_objective(ctx, "npo")


@register("simnpo")
def simnpo(ctx: UnlearnContext) -> UnlearnResult:
    """SimNPO: reference-free, length-normalised NPO with margin gamma, plus the retain term."""
    return train_objective(ctx, "simnpo")
