#!/usr/bin/env bash
# One-shot CUDA path check for a lent GPU machine (README, "GPU check"): the tiny study and the
# default study end to end on the GPU (every model rule; the MiniLM embedding rule and the DuckDB
# tables are left out, their packages are not carried), then the library's model steps on a
# SmolLM2-135M-shaped Llama in bfloat16 (bench/llama_check.py). Needs the packages the machine
# lacks as wheels in .whl/ (snakemake and its dependencies, bokeh-sampledata, jsonschema).
# Writes logs, timings and evaluation summaries to $OUT. ONLY=llama runs the last part alone.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PATH=/tmp/site/bin:$PATH PYTHONUNBUFFERED=1
export OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__, torch.cuda.get_device_name(0))" | tee -a "$OUT/gpu.txt"

summarise() {  # $1: label
  python3 - "$1" <<'PY' | tee -a "$OUT/summary.txt"
import glob, sys
import pandas as pd
rows = [pd.read_parquet(f) for f in sorted(glob.glob("results/*/eval/*/summary.parquet"))]
if rows:
    wide = pd.concat(rows).pivot(index="checkpoint", columns="metric", values="value")
    cols = ["forget_recall_train", "forget_recall_held_out", "neighbour_recall_train",
            "retain_recall_train", "exposure_rank"]
    print(sys.argv[1]); print(wide[cols].round(3).to_string())
dev = {pd.read_json(f, typ="series").get("device") for f in glob.glob("results/*/models/*/provenance.json")}
print("training device(s):", dev)
PY
}

run_study() {  # $1: label, rest: snakemake arguments
  local label=$1; shift
  local start=$(date +%s)
  python3 -m snakemake --cores 16 --omit-from semantic_similarity build_tables "$@" > "$OUT/$label.log" 2>&1
  local rc=$?
  echo "$label: rc=$rc wall=$(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
  summarise "$label"
  tar czf "$OUT/${label}_benchmarks.tgz" benchmarks logs 2>/dev/null
  rm -rf results logs benchmarks .snakemake
}

if [ "${ONLY:-}" != llama ]; then
  run_study tiny --configfile tests/config/tiny.yaml
  run_study default --config run_models=[testbed]
fi
python3 -m snakemake --cores 16 results/corpus/prompts.parquet results/tokenizer \
  --configfile tests/config/tiny.yaml > "$OUT/llama_prep.log" 2>&1
python3 bench/llama_check.py --study results --device cuda --dtype bfloat16 \
  --json "$OUT/llama_bf16.json" > "$OUT/llama_bf16.log" 2>&1; echo "llama_check rc=$?" | tee -a "$OUT/summary.txt"
tail -40 "$OUT/llama_bf16.log"
