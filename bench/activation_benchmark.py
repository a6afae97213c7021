"""Activation capture speed and storage size, side by side, on one model and one prompt set.

Run (after `.venv/bin/snakemake --cores 2 results/testbed/models/base` has built the model):

    .venv/bin/python bench/activation_benchmark.py --model results/testbed/models/base \
        --prompts results/corpus/prompts.parquet --n 500

Speed (medians of --repeats interleaved repeats, the order rotated every repeat; every variant
encodes and right-pads the same prompts in the same batches, as the dump does):
  encode         chat-template encoding and padding only
  forward plain  + model(input_ids, attention_mask): logits at every position, KV cache
  forward bare   + the dump's own forward call without hooks (last-position logits, no cache)
  capture        + hooks and mean/last pooling into CPU numpy arrays of --dtype (no disk)
  pooled dump    the full pooled dump to Parquet (actunlearn.neurons.activations.dump_activations)
  token dump     the token-level dump to Parquet shards (dump_token_activations)

Storage, at equal content (every layer's residual stream and MLP neurons, every prompt):
  prototype      per prompt and layer, float32 .npy files: token-level residual [T, hidden],
                 token-level MLP [T, intermediate], pooled residual [hidden] and pooled MLP
                 [intermediate] (the pooled vector is the token mean)
  this project   pooled file (mean and last token) + token-level shards, float32 or float16
Apparent size is the sum of file sizes; allocated size is the sum of st_blocks * 512 (what the
file system really uses). Everything is written to a temporary directory that is deleted.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from actunlearn.models.loading import load_checkpoint
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.neurons.activations import (
    bare_forward,
    dump_activations,
    dump_token_activations,
    iter_pooled,
    iter_token_level,
    prompt_batches,
)

PROV = {"config_hash": "benchmark", "params": {}, "seed": None, "device": "cpu"}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="results/testbed/models/base", help="transformers model folder")
    ap.add_argument("--prompts", default="results/corpus/prompts.parquet")
    ap.add_argument("--n", type=int, default=500, help="prompts (a seeded sample; all if larger)")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats per variant (>= 5)")
    ap.add_argument("--threads", type=int, default=1, help="torch (and Arrow) threads")
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"],
                    help="activation dtype of the timed capture and dumps")
    ap.add_argument("--batch-size", type=int, default=64, help="as evaluate.batch_size")
    ap.add_argument("--shard-rows", type=int, default=200_000, help="as activations.shard_rows")
    ap.add_argument("--tmpdir", default=None, help="where the temporary files go (default: $TMPDIR)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.repeats < 5:
        ap.error("--repeats must be >= 5")
    return args


def timed(fn) -> tuple[float, float, float, float]:
    """(wall seconds, user CPU seconds, system CPU seconds, minor page faults) of one call."""
    gc.collect()
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_minflt - before.ru_minflt)


def speed(model, tokenizer, prompts, args, work: Path) -> dict[str, tuple[float, ...]]:
    """Per variant, the medians of (wall s, user s, sys s, minor faults) over the repeats."""
    bs, dtype = args.batch_size, args.dtype

    def encode():
        for _ in prompt_batches(tokenizer, prompts, bs):
            pass

    @torch.no_grad()
    def plain():
        for _, b in prompt_batches(tokenizer, prompts, bs):
            model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])

    def bare():
        for _, b in prompt_batches(tokenizer, prompts, bs):
            bare_forward(model, b)

    def capture():
        for _ in iter_pooled(model, tokenizer, prompts, dtype, bs):
            pass

    def pooled_dump():
        dump_activations(model, tokenizer, prompts, work / "pooled.parquet", dtype, PROV, bs)

    def token_dump():
        dump_token_activations(model, tokenizer, prompts, work / "tokens", dtype, PROV,
                               args.shard_rows, bs)

    variants = {"encode": encode, "forward plain": plain, "forward bare": bare,
                "capture": capture, "pooled dump": pooled_dump, "token dump": token_dump}
    names = list(variants)
    for name in names:  # warm-up round, not timed
        variants[name]()
    times: dict[str, list[tuple[float, ...]]] = {name: [] for name in names}
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(timed(variants[name]))
    shutil.rmtree(work / "tokens", ignore_errors=True)
    (work / "pooled.parquet").unlink(missing_ok=True)
    return {name: tuple(statistics.median(col) for col in zip(*v)) for name, v in times.items()}


def disk_usage(path: Path) -> tuple[int, int, int]:
    """(files, apparent bytes, allocated bytes) under `path` (a file or a directory)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return len(files), sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


def write_prototype(model, tokenizer, prompts, args, root: Path, last: bool = False) -> None:
    """The original layout: float32 .npy files per prompt and layer. With `last`, also the
    last-token vectors this project's pooled file holds (equal content)."""
    root.mkdir(parents=True)
    for layer, pid, _, _, resid, mlp in iter_token_level(model, tokenizer, prompts, "float32",
                                                          args.batch_size):
        starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
        for s, e in zip(starts, np.r_[starts[1:], len(pid)]):
            stem = root / f"prompt{pid[s]}_layer{layer}"
            r, m = np.ascontiguousarray(resid[s:e]), np.ascontiguousarray(mlp[s:e])
            np.save(f"{stem}_resid_tokens.npy", r)
            np.save(f"{stem}_mlp_tokens.npy", m)
            np.save(f"{stem}_resid_pooled.npy", r.mean(0, dtype=np.float32))
            np.save(f"{stem}_mlp_pooled.npy", m.mean(0, dtype=np.float32))
            if last:
                np.save(f"{stem}_resid_last.npy", r[-1])
                np.save(f"{stem}_mlp_last.npy", m[-1])


def storage(model, tokenizer, prompts, args, work: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for name, last in (("prototype .npy float32", False), ("prototype + last vectors", True)):
        write_prototype(model, tokenizer, prompts, args, work / "prototype", last)
        out[name] = disk_usage(work / "prototype")
        shutil.rmtree(work / "prototype")
    for dtype in ("float32", "float16"):
        pooled, tokens = work / f"pooled_{dtype}.parquet", work / f"tokens_{dtype}"
        dump_activations(model, tokenizer, prompts, pooled, dtype, PROV, args.batch_size)
        dump_token_activations(model, tokenizer, prompts, tokens, dtype, PROV, args.shard_rows,
                               args.batch_size)
        p, t = disk_usage(pooled), disk_usage(tokens)
        out[f"parquet {dtype}: pooled"] = p
        out[f"parquet {dtype}: tokens"] = t
        out[f"parquet {dtype}: total"] = (p[0] + t[0], p[1] + t[1], p[2] + t[2])
        pooled.unlink()
        shutil.rmtree(tokens)
    return out


def mib(n: int) -> str:
    return f"{n / 2**20:9.2f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pa.set_cpu_count(args.threads)
    pa.set_io_thread_count(args.threads)
    model = load_checkpoint(args.model)
    tokenizer = load_tokenizer(args.model)
    prompts = pd.read_parquet(args.prompts, columns=["prompt_id", "question"])
    prompts = prompts.sample(n=min(args.n, len(prompts)), random_state=args.seed).sort_values("prompt_id")
    cfg = model.config
    n_tokens = sum(int(b["attention_mask"].sum())
                   for _, b in prompt_batches(tokenizer, prompts, args.batch_size))
    print(f"model {args.model}: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, "
          f"intermediate {cfg.intermediate_size}, {next(model.parameters()).dtype}")
    print(f"{len(prompts)} prompts, {n_tokens} tokens ({n_tokens / len(prompts):.1f} per prompt), "
          f"batch {args.batch_size}; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs visible; torch {torch.__version__}, pyarrow {pa.__version__}")

    work = Path(tempfile.mkdtemp(prefix="actunlearn-bench-", dir=args.tmpdir))
    try:
        fs = os.statvfs(work)
        print(f"temporary files in {work} (block size {fs.f_bsize} B)")
        t = speed(model, tokenizer, prompts, args, work)
        sizes = storage(model, tokenizer, prompts, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    wall = {name: v[0] for name, v in t.items()}
    bare, plain, enc = wall["forward bare"], wall["forward plain"], wall["encode"]
    print(f"\nSpeed: medians of {args.repeats} interleaved repeats, activations as {args.dtype}")
    print(f"{'variant':<16}{'wall s':>8}{'/ bare':>8}{'/ plain':>8}{'user s':>8}{'sys s':>8}"
          f"{'minor faults':>14}")
    for name, (sec, user, system, faults) in t.items():
        print(f"{name:<16}{sec:8.3f}{sec / bare:8.3f}{sec / plain:8.3f}{user:8.3f}{system:8.3f}"
              f"{faults:14.0f}")
    print(f"capture / bare = {wall['capture'] / bare:.3f}   pooled dump / bare = "
          f"{wall['pooled dump'] / bare:.3f}   (goal: capture / bare <= 1.15)")
    print(f"capture / plain = {wall['capture'] / plain:.3f}   pooled dump / plain = "
          f"{wall['pooled dump'] / plain:.3f}")
    print(f"forward only (encoding subtracted): capture / bare = "
          f"{(wall['capture'] - enc) / (bare - enc):.3f}, pooled dump / bare = "
          f"{(wall['pooled dump'] - enc) / (bare - enc):.3f}")
    print(f"where the time goes: encode {enc:.3f} s, forward {bare - enc:.3f} s, "
          f"hooks + pooling + to numpy {wall['capture'] - bare:+.3f} s, "
          f"Arrow + Parquet {wall['pooled dump'] - wall['capture']:+.3f} s")

    proto = sizes["prototype .npy float32"]
    print(f"\nStorage: every layer ({cfg.num_hidden_layers}), residual + MLP, {len(prompts)} prompts")
    print(f"{'layout':<26}{'files':>7}{'apparent MiB':>14}{'allocated MiB':>15}"
          f"{'apparent/proto':>16}{'allocated/proto':>17}")
    for name, (files, apparent, allocated) in sizes.items():
        print(f"{name:<26}{files:7d}{mib(apparent):>14}{mib(allocated):>15}"
              f"{apparent / proto[1]:16.3f}{allocated / proto[2]:17.3f}")
    equal = sizes["prototype + last vectors"]
    for dtype in ("float32", "float16"):
        _, apparent, allocated = sizes[f"parquet {dtype}: total"]
        for label, ref in (("prototype as it was", proto), ("prototype at equal content", equal)):
            verdict = "meets" if max(apparent / ref[1], allocated / ref[2]) <= 0.25 else (
                "meets on allocated size only" if allocated / ref[2] <= 0.25 else "misses")
            print(f"parquet {dtype} (pooled + tokens) vs {label}: {apparent / ref[1]:.3f} "
                  f"apparent, {allocated / ref[2]:.3f} allocated: {verdict} the <= 0.25 goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
