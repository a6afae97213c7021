"""Unlearning method handlers, chosen by the `handler` of a method's settings (registry.py)."""

# each import registers its handlers (registry.register)
from actunlearn.unlearning.methods import lora  # noqa: F401  (the LoRA family)
from actunlearn.unlearning.methods import dampen  # noqa: F401  (activation dampening in the weights)
from actunlearn.unlearning.methods import ssd  # noqa: F401  (Selective Synaptic Dampening)
from actunlearn.unlearning.methods import rmu  # noqa: F401  (Representation Misdirection)
from actunlearn.unlearning.methods import objectives  # noqa: F401  (grad_ascent, grad_diff, npo, simnpo, refusal)
from actunlearn.unlearning.methods.registry import (
    METHODS,
    UnlearnContext,
    UnlearnResult,
    log_frame,
    register,
    resolve_layers,
    run_method,
    save_result,
    unlearn_job,
)

__all__ = ["METHODS", "UnlearnContext", "UnlearnResult", "log_frame", "register",
           "resolve_layers", "run_method", "save_result", "unlearn_job"]
