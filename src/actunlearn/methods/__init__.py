"""Unlearning methods, chosen by name from config (see registry.py)."""

from actunlearn.methods import lora  # noqa: F401  (registers the LoRA family)
from actunlearn.methods.registry import (METHODS, UnlearnContext, UnlearnResult, register,
                                         resolve_layers, run_method, save_result)

__all__ = ["METHODS", "UnlearnContext", "UnlearnResult", "register", "resolve_layers",
           "run_method", "save_result"]
