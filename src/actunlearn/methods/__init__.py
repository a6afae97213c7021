"""Unlearning method handlers, chosen by the `handler` of a method's settings (registry.py)."""

from actunlearn.methods import lora  # noqa: F401  (registers the LoRA family)
from actunlearn.methods import dampen  # noqa: F401  (activation dampening in the weights)
from actunlearn.methods import ssd  # noqa: F401  (Selective Synaptic Dampening)
from actunlearn.methods import rmu  # noqa: F401  (Representation Misdirection)
from actunlearn.methods import objectives  # noqa: F401  (objectives; grad_ascent, grad_diff, npo, simnpo)
from actunlearn.methods.registry import (METHODS, UnlearnContext, UnlearnResult, log_frame,
                                         register, resolve_layers, run_method, save_result,
                                         unlearn_job)

__all__ = ["METHODS", "UnlearnContext", "UnlearnResult", "log_frame", "register",
           "resolve_layers", "run_method", "save_result", "unlearn_job"]
