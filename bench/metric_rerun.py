"""How long a metric-only change takes on a finished study: change one setting read only by a
metric (default `evaluate.drift.rbo_p`), time the real incremental rerun, then change it back and
time that too. Writes docs/rerun_times.csv, which rule write_results turns into a line of
docs/results.md and the README (no hand-typed number).

    .venv/bin/python bench/metric_rerun.py            # in the project folder, after make study
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(*args: str) -> str:
    proc = subprocess.run([SNAKEMAKE, *args], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout + proc.stderr


def job_counts(dry_run: str) -> dict[str, int]:
    if "Nothing to be done" in dry_run:
        return {}
    stats = dry_run.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def timed_rerun(cores: int, *config: str) -> tuple[dict[str, int], float]:
    jobs = job_counts(snakemake("-n", "--cores", str(cores), *config))
    start = time.perf_counter()
    snakemake("--cores", str(cores), *config)
    return jobs, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--key", default="evaluate.drift.rbo_p")
    ap.add_argument("--value", type=float, default=0.8)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", default="docs/rerun_times.csv")
    args = ap.parse_args()
    if job_counts(snakemake("-n", "--cores", str(args.cores))):
        sys.exit("the study is not complete: run `make study` first")
    node = yaml.safe_load(Path("config/config.yaml").read_text())
    for part in args.key.split("."):
        node = node[part]
    original = node
    overlay = {}
    target = overlay
    *parents, leaf = args.key.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = args.value
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(overlay, fh)
    for value, config in ((args.value, ["--configfile", fh.name]), (original, [])):
        jobs, seconds = timed_rerun(args.cores, *config)
        rows.append({"commit": commit, "cores": args.cores, "key": args.key, "value": value,
                     "jobs": sum(jobs.values()), "rules": ", ".join(sorted(jobs)),
                     "seconds": round(seconds, 1)})
        print(rows[-1], flush=True)
    Path(fh.name).unlink()
    pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
