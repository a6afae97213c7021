"""Model loading, chat encoding and batching shared by every stage."""

from __future__ import annotations

import copy
import inspect
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

IGNORE = -100


def setup_torch(threads: int, seed: int | None = None) -> None:
    """Thread count from the scheduler, deterministic kernels, seeded RNGs."""
    # cuBLAS needs a fixed workspace for deterministic results; set before CUDA starts
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(max(1, int(threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if seed is not None:
        seed_everything(seed)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# A model folder may hold a model card instead of (or beside) weights: where the weights are (a hub
# id or local folder, for source hf), the dtype, device map, revision, remote-code permission and
# the system prompt every chat prompt gets (written by rule prepare_model).
MODEL_CARD = "actunlearn_model.json"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def read_model_card(path: str | Path) -> dict:
    card = Path(path) / MODEL_CARD
    return json.loads(card.read_text()) if card.exists() else {}


def load_model(path: str | Path, device: str = "cpu", dtype: str | None = None):
    """A causal LM from a local transformers folder (or the hub id its model card names), in eval
    mode. No remote code unless the card allows it; the architecture is checked."""
    from actunlearn.sources import check_architecture
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
    from actunlearn.tokenizer import load_tokenizer
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


def prompt_ids(tokenizer, question: str, system: str | None = None) -> list[int]:
    """The chat-formatted user turn (after a system turn, if given) plus the assistant header.
    Without `system`, the model's configured system prompt (its model card) is used, if any."""
    if system is None:
        system = getattr(tokenizer, "actunlearn_system_prompt", None)
    elif not isinstance(system, str):
        raise TypeError(f"system prompt must be a string or None, not {system!r}")
    turns = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": "user", "content": question}]
    out = tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def left_padded(tokenizer, questions: list[str], device: str = "cpu",
                systems: list[str | None] | None = None):
    """(input_ids, attention_mask, width) of chat prompts (each after its system turn, if any),
    left-padded with the pad token."""
    pad = tokenizer.pad_token_id
    systems = systems if systems is not None else [None] * len(questions)
    seqs = [prompt_ids(tokenizer, q, s) for q, s in zip(questions, systems)]
    width = max(map(len, seqs))
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
    return ids, mask, width


def answer_ids(tokenizer, answer: str) -> list[int]:
    """The answer tokens followed by the end-of-turn token."""
    return tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def qa_example(tokenizer, question: str, answer: str, train_prompt: bool = False
               ) -> tuple[list[int], list[int]]:
    """(input ids, labels): labels cover the answer, and the prompt too when `train_prompt`."""
    p, a = prompt_ids(tokenizer, question), answer_ids(tokenizer, answer)
    labels = (p if train_prompt else [IGNORE] * len(p)) + a
    return p + a, labels


def text_example(tokenizer, text: str) -> tuple[list[int], list[int]]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return ids, list(ids)


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int, device: str = "cpu"
            ) -> dict[str, torch.Tensor]:
    """Right-pad (ids, labels) pairs into input_ids, attention_mask and shifted-ready labels."""
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (x, y) in enumerate(examples):
        ids[row, :len(x)] = torch.tensor(x)
        labels[row, :len(y)] = torch.tensor(y)
        mask[row, :len(x)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device),
            "labels": labels.to(device)}


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log p(label) for next-token prediction, and the mask of scored positions."""
    logits, labels = logits[:, :-1].float(), labels[:, 1:]
    mask = labels != IGNORE
    lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return lp * mask, mask


def sequence_logprob(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log p over the labelled tokens of each sequence."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    lp, _ = token_logprobs(logits, batch["labels"])
    return lp.sum(-1)


def _cache_of(output):
    """The key/value cache of a forward pass (named `cache` or, in older transformers,
    `past_key_values`)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else getattr(output, "past_key_values", None)


def _cache_kwarg(model) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def length_chunks(lengths: list[int], batch_size: int, overhead: int = 64) -> list[list[int]]:
    """Indices grouped into batches of at most `batch_size` items so that the summed cost of the
    forward passes is least, a pass costing `overhead` cells plus its padded cells (rows times
    the longest length). Groups are runs of the length-sorted order (optimal for this cost);
    dynamic programming over the run ends. On CPU a pass costs about 40-50 tokens' compute beyond
    its padded cells (SmolLM2: 172 ms for 25 one-token rows, 4 ms a token more); of 16, 32, 64
    and 128, 64 ranked fastest on the testbed and SmolLM2."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    best, cut = [0.0] + [float("inf")] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        width = lengths[order[end - 1]]  # the longest of any run ending here
        for start in range(max(0, end - batch_size), end):
            cost = best[start] + overhead + (end - start) * width
            if cost < best[end]:
                best[end], cut[end] = cost, start
    chunks, end = [], len(order)
    while end:
        chunks.append(order[cut[end]:end])
        end = cut[end]
    return chunks[::-1]


@torch.no_grad()
def continuation_logprobs(model, prompt: list[int], continuations: list[list[int]],
                          batch_size: int, device: str = "cpu") -> torch.Tensor:
    """log p(continuation | prompt) summed over its tokens, for many continuations of one
    prompt: the prompt runs once and its key/value cache is shared (equal to scoring each full
    sequence; tested); continuations are batched by length (`length_chunks`). Falls back to full
    sequences for a model that returns no cache."""
    if not all(continuations):
        raise ValueError("continuation_logprobs: an empty continuation has no log-probability")
    p = torch.tensor([prompt], device=device)
    out = model(input_ids=p, use_cache=True)
    cache = _cache_of(out)
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        scores = torch.empty(len(continuations))
        for idx in length_chunks([len(c) for c in continuations], batch_size):
            chunk = [(prompt + continuations[i], [IGNORE] * len(prompt) + continuations[i])
                     for i in idx]
            scores[idx] = sequence_logprob(model, collate(chunk, 0, device)).cpu()
        return scores
    # the prompt's last position scores each first token; a continuation's own last token
    # predicts nothing, so only its other tokens are fed (one position in five, for titles)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    scores = first[[c[0] for c in continuations]].cpu()
    longer = [i for i, c in enumerate(continuations) if len(c) > 1]
    kwarg, n_prompt = _cache_kwarg(model), len(prompt)
    for part in length_chunks([len(continuations[i]) - 1 for i in longer], batch_size):
        idx = [longer[j] for j in part]
        chunk = [continuations[i] for i in idx]
        rows, width = len(chunk), max(map(len, chunk)) - 1
        ids = torch.zeros((rows, width), dtype=torch.long)
        targets = torch.zeros((rows, width), dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        for i, c in enumerate(chunk):
            ids[i, :len(c) - 1] = torch.tensor(c[:-1])
            targets[i, :len(c) - 1] = torch.tensor(c[1:])
            mask[i, :len(c) - 1] = 1
        ids, targets, mask = ids.to(device), targets.to(device), mask.to(device)
        shared = copy.deepcopy(cache)
        shared.batch_repeat_interleave(rows)
        attention = torch.cat([torch.ones((rows, n_prompt), dtype=torch.long, device=device), mask], 1)
        positions = (n_prompt + torch.arange(width, device=device)).expand(rows, -1)
        logits = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                       use_cache=True, **{kwarg: shared}).logits.float()
        lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        scores[idx] += (lp * mask).sum(-1).cpu()
    return scores


def batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@torch.no_grad()
def teacher_forced_correct(model, examples, pad_id: int, batch_size: int = 64,
                           device: str = "cpu") -> list[bool]:
    """Whether argmax matches every labelled token: equals greedy decoding of the answer."""
    out: list[bool] = []
    for chunk in batches(examples, batch_size):
        b = collate(chunk, pad_id, device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        pred, labels = logits[:, :-1].argmax(-1), b["labels"][:, 1:]
        ok = ((pred == labels) | (labels == IGNORE)).all(-1)
        out += ok.tolist()
    return out


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
