"""Torch setup, seeds, and loading models and checkpoints.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from actunlearn.models.cards import read_model_card
from actunlearn.models.sources import check_architecture
from actunlearn.models.tokenizer import load_tokenizer


def setup_torch(threads: int, seed: int | None = None) -> None:
    """Thread count from the scheduler, deterministic kernels, seeded RNGs."""
    # cuBLAS needs a fixed workspace for deterministic results; set before CUDA starts
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(max(1, int(threads)))
    deterministic_algorithms()
    if seed is not None:
        seed_everything(seed)


def deterministic_algorithms() -> None:
    """`torch.use_deterministic_algorithms(True, warn_only=True)` without its import of
    torch._inductor, which only sets a torch.compile flag and costs 1-2 s of every job's start
    (nothing here compiles; bench/job_startup.py measures it). The public call is used when
    torch._inductor is loaded already or the private setter is gone."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None or "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        setter(True, warn_only=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_model(path: str | Path, device: str = "cpu", dtype: str | None = None):
    """A causal LM from a local transformers folder (or the hub id its model card names), in eval
    mode. No remote code unless the card allows it; the architecture is checked."""
    card = read_model_card(path)
    kwargs = {"dtype": DTYPES[dtype or card.get("dtype") or "float32"],
              "trust_remote_code": bool(card.get("trust_remote_code", False))}
    if card.get("revision"):
        kwargs["revision"] = card["revision"]
    if card.get("device_map"):
        kwargs["device_map"] = card["device_map"]
    model = AutoModelForCausalLM.from_pretrained(card.get("weights") or str(path), **kwargs)
    check_architecture(model)
    if not card.get("device_map"):
        model = model.to(device)
    return model.eval()


def load_checkpoint(model_dir: str | Path, checkpoint_dir: str | Path | None = None,
                    device: str = "cpu"):
    """The base model, or an unlearned checkpoint: a PEFT adapter (merged into the base model)
    or a full model folder (in the base model's dtype)."""
    if checkpoint_dir is None:
        return load_model(model_dir, device)
    if (Path(checkpoint_dir) / "adapter_config.json").exists():
        from peft import PeftModel
        base = load_model(model_dir, device)
        return PeftModel.from_pretrained(base, str(checkpoint_dir)).merge_and_unload().eval()
    return load_model(checkpoint_dir, device, read_model_card(model_dir).get("dtype"))


def open_checkpoint(model_dir: str | Path, checkpoint_dir: str | Path | None = None,
                    threads: int = 1, seed: int | None = None):
    """What every model-reading step starts with: threads and seeds set, then (model, tokenizer,
    device) for the base model or an unlearned checkpoint."""
    setup_torch(threads, seed)
    device = default_device()
    return load_checkpoint(model_dir, checkpoint_dir, device), load_tokenizer(model_dir), device


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder blocks of a Llama/Qwen-style model (also through a PEFT wrapper)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        raise TypeError(f"{type(base).__name__} has no model.layers: unsupported architecture")
    return layers


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
