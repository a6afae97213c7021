import os
from pathlib import Path

from actunlearn.catalog import all_titles, check_forget_titles
from actunlearn.config import validate_config

# Fail before any work: schema first, then titles against the real catalog.
validate_config(config)
TITLES = all_titles()
check_forget_titles(config["catalog"]["forget"], TITLES)
check_forget_titles(config["unlearn"]["sequential"]["targets"], TITLES,
                    key="unlearn.sequential.targets")

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ENV = "../envs/actunlearn.yaml"
MODEL_VARIANTS = ["base", "retain_ref"]
SQL_DIR = Path(workflow.basedir) / "sql"
SQL_TABLES = sorted(p.stem for p in SQL_DIR.glob("*.sql"))


wildcard_constraints:
    variant="|".join(MODEL_VARIANTS),
    method="[a-z][a-z_]*[a-z]",
    seed=r"\d+",
    checkpoint=r"[a-z][a-z_]*(seed\d+)?",


def unlearned_checkpoints():
    return [f"{m}_seed{s}" for m in config["unlearn"]["run"] for s in config["unlearn"]["seeds"]]


def all_checkpoints():
    return MODEL_VARIANTS + unlearned_checkpoints()


def parse_checkpoint(checkpoint):
    """(method, seed) of an unlearned checkpoint name like masked_lora_seed0."""
    method, _, seed = checkpoint.rpartition("_seed")
    return method, int(seed)


def checkpoint_model(wildcards):
    """The base model folder, and for unlearned checkpoints the checkpoint folder (a PEFT adapter
    or a full model)."""
    if wildcards.checkpoint in MODEL_VARIANTS:
        return {"model": f"results/models/{wildcards.checkpoint}"}
    method, seed = parse_checkpoint(wildcards.checkpoint)
    return {"model": "results/models/base",
            "checkpoint": f"results/unlearn/{method}_seed{seed}/checkpoint"}


def method_params(wildcards):
    return config["unlearn"]["methods"][wildcards.method]


def eval_summaries():
    return expand("results/eval/{checkpoint}/summary.parquet", checkpoint=all_checkpoints())


def probing_outputs():
    return (
        expand("results/probing/instability/{checkpoint}.parquet", checkpoint=all_checkpoints())
        + expand("results/probing/shift/{checkpoint}.parquet", checkpoint=unlearned_checkpoints())
        + expand("results/probing/shift/{checkpoint}_pca.parquet", checkpoint=unlearned_checkpoints())
        + [
            "results/probing/activation_overlap.parquet",
            "results/probing/semantic_similarity.parquet",
            "results/probing/neuron_agreement.parquet",
        ]
    )


def unlearn_logs():
    return expand("results/unlearn/{checkpoint}/log.parquet", checkpoint=unlearned_checkpoints())


def sequence_outputs():
    """Summaries of the sequential study (none when unlearn.sequential.targets is empty)."""
    seq = config["unlearn"]["sequential"]
    if not seq["targets"]:
        return []
    return expand("results/sequential/{method}_seed{seed}/{name}.parquet", method=seq["method"],
                  seed=seq["seeds"], name=["summary", "log"])


def relearn_checkpoints():
    """The relearning attack's targets: retain_ref and the unlearned checkpoints of relearn.seeds."""
    seeds = config["relearn"]["seeds"]
    return ["retain_ref"] + [f"{m}_seed{s}" for m in config["unlearn"]["run"] for s in seeds]


def relearn_inputs(wildcards):
    """name -> model folder (retain_ref) or checkpoint folder (unlearned)."""
    out = {"base": "results/models/base", "retain_ref": "results/models/retain_ref"}
    for name in relearn_checkpoints()[1:]:
        out[name] = f"results/unlearn/{name}/checkpoint"
    return out


def byo_outputs():
    """Drift tables of the configured response logs, and probe results of every checkpoint."""
    byo = config["byo"]
    out = expand("results/byo/{name}/summary.parquet", name=sorted(byo["logs"]))
    if byo["probes"]:
        # (a line may not start with `checkpoint`: a Snakemake keyword)
        out += [f"results/byo/probes/{c}_summary.parquet" for c in all_checkpoints()]
    return out


def token_activation_outputs():
    """Token-level dumps are optional (activations.token_level)."""
    if not config["activations"]["token_level"]:
        return []
    return ["results/activations/base_tokens"]


def final_outputs():
    return [
        "results/report/report.html",
        "results/activations/base.parquet",
        "results/actunlearn.duckdb",
    ] + expand("results/tables/{table}.csv", table=SQL_TABLES) + token_activation_outputs() + \
        byo_outputs()
