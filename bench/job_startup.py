"""What a model-reading job pays before its first forward pass, side by side in one run: a fresh
interpreter imports the library, sets torch up (threads, deterministic kernels, seeds) and, as an
adapter checkpoint's evaluation does, imports peft. `public` calls
torch.use_deterministic_algorithms (which imports torch._inductor); `setup_torch` is what the
jobs run (models/loading.deterministic_algorithms). Runs alternate so machine noise hits both.

    .venv/bin/python bench/job_startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "public": "import torch; torch.set_num_threads(1); "
              "torch.use_deterministic_algorithms(True, warn_only=True); torch.manual_seed(0)",
    "setup_torch": "from actunlearn.models.loading import setup_torch; setup_torch(1, 0)",
}
PREAMBLE = "import actunlearn.evaluation.checkpoint; "
ADAPTER = "; import peft"


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    for label, tail in (("base checkpoint", ""), ("adapter checkpoint (+ peft)", ADAPTER)):
        times = {name: [] for name in VARIANTS}
        timed(PREAMBLE + VARIANTS["public"])  # warm the file cache
        for _ in range(args.repeats):
            for name, code in VARIANTS.items():
                times[name].append(timed(PREAMBLE + code + tail))
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"{label}: median of {args.repeats} fresh interpreters, "
              + ", ".join(f"{n} {s:.2f} s" for n, s in med.items())
              + f"; setup_torch / public = {med['setup_torch'] / med['public']:.2f}")


if __name__ == "__main__":
    main()
