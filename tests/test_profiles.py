"""The SLURM profile: model-heavy rules ask for a GPU, the rest stay on CPU (a dry run, no cluster)."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GPU_RULES = {"train_testbed", "check_knowledge", "score_neurons", "dump_activations", "evaluate",
             "evaluate_unlearned", "unlearn", "unlearn_sequence", "evaluate_sequence", "relearn",
             "audit_part", "localize"}
CPU_RULES = {"build_catalog", "build_corpus", "prepare_model", "rank_neurons", "build_tables",
             "build_report", "build_study_tables", "build_study_report"}


def test_slurm_dry_run_lists_gpu_resources_for_model_rules(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--profile",
         str(ROOT / "profiles/slurm"), "--directory", str(tmp_path), "--snakefile",
         str(ROOT / "workflow/Snakefile")], cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    resources: dict[str, set[str]] = {}
    for rule, res in re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", out, re.M):
        resources.setdefault(rule, set()).add(res)
    assert GPU_RULES | CPU_RULES <= set(resources), sorted(resources)
    for rule in GPU_RULES:
        assert all("gpu=1" in r and "slurm_partition=gpu" in r for r in resources[rule]), rule
    for rule in CPU_RULES:
        assert all("gpu=1" not in r and "slurm_partition=cpu" in r for r in resources[rule]), rule
    # both models of the default study are scheduled
    assert "model=smollm2" in out and "model=testbed" in out


def test_quick_run_flag_leaves_the_pretrained_model_out(tmp_path):
    """`--config run_models=[testbed]`: the default study without SmolLM2 (no download, no
    conversion)."""
    def dry_run(*extra):
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1",
             "--directory", str(tmp_path), "--snakefile", str(ROOT / "workflow/Snakefile"), *extra],
            cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc.stdout + proc.stderr
    quick, full = dry_run("--config", "run_models=[testbed]"), dry_run()
    assert "model=smollm2" not in quick and "prepare_model" not in quick
    assert "model=smollm2" in full and "prepare_model" in full


def test_qwen_preset_is_valid_and_schedules_both_settings(tmp_path):
    """config/qwen2.5-3b.yaml: the original notebook's settings next to the project's defaults,
    two models on one hub id (a dry run: nothing is downloaded)."""
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1", "--configfile",
         str(ROOT / "config/qwen2.5-3b.yaml"), "--directory", str(tmp_path), "--snakefile",
         str(ROOT / "workflow/Snakefile")], cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "model=qwen_original" in out and "model=qwen" in out and "model=testbed" not in out
    from actunlearn.config import model_config
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    preset = yaml.safe_load((ROOT / "config/qwen2.5-3b.yaml").read_text())
    cfg["run_models"], cfg["models"] = preset["run_models"], cfg["models"] | preset["models"]
    original = model_config(cfg, "qwen_original")
    assert original["ranking"]["layers"]["explicit"] == [0, 16, 17]
    assert {k: original["unlearn"]["methods"]["masked_lora"][k]
            for k in ("rank", "top_k", "mask_scale", "steps", "learning_rate")} == \
        {"rank": 1, "top_k": 3, "mask_scale": 0.05, "steps": 26, "learning_rate": 5e-5}
