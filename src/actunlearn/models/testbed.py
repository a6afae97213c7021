"""The testbed: a tiny Qwen2-architecture causal LM trained from scratch on the corpus, so what
it knows (and must forget) is exactly known."""

from __future__ import annotations

import math
import time

import pandas as pd
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from actunlearn.models.encoding import batches, collate, line_examples, qa_example
from actunlearn.models.loading import seed_everything
from actunlearn.models.scoring import teacher_forced_correct


def testbed_config(tokenizer, hidden_size: int, intermediate_size: int, num_layers: int,
                   num_heads: int, max_positions: int = 128) -> Qwen2Config:
    if hidden_size % num_heads:
        raise ValueError(f"testbed.hidden_size={hidden_size} is not divisible by "
                         f"testbed.num_heads={num_heads}")
    return Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def new_model(config: Qwen2Config, seed: int) -> Qwen2ForCausalLM:
    seed_everything(seed)
    return Qwen2ForCausalLM(config)


def lr_lambda(warmup: int, total: int):
    """Linear warm-up, then cosine decay to 10% of the peak."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return f


def length_buckets(examples, batch_size: int, gen: torch.Generator) -> list[list[int]]:
    """Batches of similar length (less padding), in random order; ties broken at random."""
    noise = torch.rand(len(examples), generator=gen).tolist()
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]), noise[i]))
    chunks = list(batches(order, batch_size))
    return [chunks[i] for i in torch.randperm(len(chunks), generator=gen).tolist()]


def train(model, examples, recall_examples, pad_id: int, epochs: int, batch_size: int,
          learning_rate: float, warmup_steps: int, seed: int, device: str = "cpu",
          report=None, probe_sample: int = 500) -> list[dict]:
    """Plain next-token training; one log row per epoch with loss and teacher-forced recall,
    passed to `report` (e.g. print) as soon as the epoch ends. Recall after the last epoch is
    measured on every probe; after the others on a fixed seeded sample of `probe_sample` of them
    (`n_recall` says which): all 3,000 probes took 3.4 s an epoch, 14% of the training time."""
    if not examples or not recall_examples:
        raise ValueError("testbed training needs training examples and recall probes")
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(examples) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(warmup_steps, epochs * steps_per_epoch))
    gen = torch.Generator().manual_seed(seed)
    log, start = [], time.perf_counter()
    order = torch.randperm(len(recall_examples), generator=torch.Generator().manual_seed(seed))
    sampled = [recall_examples[i] for i in sorted(order[:probe_sample].tolist())]
    for epoch in range(1, epochs + 1):
        total, tokens = 0.0, 0
        for idx in length_buckets(examples, batch_size, gen):
            b = collate([examples[i] for i in idx], pad_id, device)
            out = model(**b)
            if not torch.isfinite(out.loss):
                raise FloatingPointError(f"testbed training: loss {out.loss.item()} at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            n = int((b["labels"][:, 1:] != -100).sum())
            total, tokens = total + out.loss.item() * n, tokens + n
        model.eval()
        probes = recall_examples if epoch == epochs else sampled
        correct = teacher_forced_correct(model, probes, pad_id, device=device)
        model.train()
        log.append({"epoch": epoch, "loss": total / tokens,
                    "recall": sum(correct) / len(correct), "n_recall": len(correct),
                    "tokens": tokens, "seconds": time.perf_counter() - start})
        if report is not None:
            report(log[-1])
    model.eval()
    return log


def train_variant(tokenizer, corpus: pd.DataFrame, prompts: pd.DataFrame, cfg: dict, variant: str,
                  seed: int, device: str) -> tuple[Qwen2ForCausalLM, list[dict], int]:
    """Train a testbed model from scratch on the corpus's train lines: `base` on all of them,
    `retain_ref` without the forget targets' lines. The recall probe is every single-answer fact
    on train templates of the films the variant trained on. Returns (model, log, lines used)."""
    lines = corpus[corpus.split == "train"]
    probe = prompts[(prompts.split == "train") & (prompts.intent != "recommend")]
    if variant == "retain_ref":
        lines, probe = lines[~lines.forget], probe[probe.role != "forget"]
    examples = line_examples(tokenizer, lines, train_prompt=True)
    recall_examples = [qa_example(tokenizer, q, a) for q, a in zip(probe.question, probe.answer)]
    config = testbed_config(tokenizer, cfg["hidden_size"], cfg["intermediate_size"],
                            cfg["num_layers"], cfg["num_heads"])
    model = new_model(config, seed)
    log = train(model, examples, recall_examples, tokenizer.pad_token_id, cfg["epochs"],
                cfg["batch_size"], cfg["learning_rate"], cfg["warmup_steps"], seed, device,
                report=lambda row: print(row, flush=True))
    return model, log, len(examples)
