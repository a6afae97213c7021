import os
from pathlib import Path

from actunlearn.data.catalog import all_titles, check_forget_titles
from actunlearn.config import (DETERMINISTIC_HANDLERS, checkpoint_name, load_tuned, method_seeds,
                               model_config, parse_checkpoint, pick, reads_ranking, validate_config)
from actunlearn.tuning.search import check_spaces, settings_grid, tuned_methods

# Fail before any work: schema first (every model with its overrides), then titles against the
# real catalog.
validate_config(config)
TITLES = all_titles()
RUN_MODELS = config["run_models"]
# Tuning (rules/tune.smk) reads each model's settings as configured; the study reads them with the
# chosen settings of the last `snakemake tune` (tuning.overlay, a committed file) merged in.
UNTUNED_CONFIG = {m: model_config(config, m) for m in RUN_MODELS}
# (one pattern for every model: tuning.overlay is not a per-model setting)
TUNED_PATTERN = config["tuning"]["overlay"]
TUNED_TRIALS_PATTERN = TUNED_PATTERN.removesuffix(".yaml") + ".trials.csv"  # their trials, committed too
TUNED_PATH = {m: TUNED_PATTERN.format(model=m) for m in RUN_MODELS}
MODEL_CONFIG = {m: model_config(config, m, load_tuned(TUNED_PATH[m])
                                if UNTUNED_CONFIG[m]["tuning"]["enabled"] else None)
                for m in RUN_MODELS}
for _m in RUN_MODELS:
    if UNTUNED_CONFIG[_m]["tuning"]["overlay"] != TUNED_PATTERN:
        raise ValueError(f"models.{_m}.overrides.tuning.overlay: one overlay pattern for every "
                         "model; set tuning.overlay (with {model}) at the top level")
check_forget_titles(config["catalog"]["forget"], TITLES)
for _m in RUN_MODELS:
    check_forget_titles(MODEL_CONFIG[_m]["unlearn"]["sequential"]["targets"], TITLES,
                        key=f"unlearn.sequential.targets (model {_m})")

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ENV = "../envs/actunlearn.yaml"
# (current_basedir: this file's folder, also when the workflow is used as a module)
SQL_DIR = Path(workflow.current_basedir).parents[1] / "sql"
SQL_TABLES = sorted(p.stem for p in SQL_DIR.glob("*.sql"))
TESTBED_MODELS = [m for m, spec in config["models"].items() if spec["source"] == "testbed"]
PRETRAINED_MODELS = [m for m, spec in config["models"].items() if spec["source"] != "testbed"]


wildcard_constraints:
    model="|".join(config["models"]),
    variant="base|retain_ref",
    method="[a-z][a-z_]*[a-z]",
    seed=r"\d+",
    checkpoint=r"[a-z][a-z_]*(seed\d+)?",


def _alternation(names):
    """A regex alternation of `names` that matches nothing when there are none."""
    return "|".join(names) or "(?!x)x"


def file_sha256(path):
    """The file's content hash, or "absent" (a param: a changed file reruns the rule)."""
    import hashlib
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def source_of(model):
    return config["models"][model]["source"]


def setting(*path, tree=None):
    """A params function: this model's setting at `path` (its overrides merged in; `tree`: the
    per-model settings read, default MODEL_CONFIG), a value and never a section: a rule names
    the keys its script reads (`settings`), so that a changed key reruns exactly the rules that
    read it."""
    def get(wildcards):
        value = (tree or MODEL_CONFIG)[wildcards.model]
        for key in path:
            value = value[key]
        if isinstance(value, dict):
            raise ValueError(f"setting{path}: a whole config section; name its keys (settings)")
        return value
    return get


def settings(section, *keys, tree=None):
    """A params function: the named `keys` (dotted for nested ones) of this model's `section`
    (dotted for a nested one, e.g. "evaluate.drift"; `tree` as for `setting`)."""
    def get(wildcards):
        value = (tree or MODEL_CONFIG)[wildcards.model]
        for part in section.split("."):
            value = value[part]
        return pick(value, keys, section)
    return get


def model_variants(model):
    """Models that are not unlearned: a testbed also trains the retain-only reference."""
    return ["base", "retain_ref"] if source_of(model) == "testbed" else ["base"]


def has_reference(model):
    return "retain_ref" in model_variants(model)


def unlearned_checkpoints(model):
    """A deterministic handler (config.DETERMINISTIC_HANDLERS) runs once, with the first seed."""
    u = MODEL_CONFIG[model]["unlearn"]
    return [checkpoint_name(m, s) for m in u["run"]
            for s in method_seeds(u["methods"][m]["handler"], u["seeds"])]


def deterministic_methods(model):
    """The methods of this study whose handler is deterministic (config.DETERMINISTIC_HANDLERS)."""
    u = MODEL_CONFIG[model]["unlearn"]
    return [m for m in u["run"] if u["methods"][m]["handler"] in DETERMINISTIC_HANDLERS]


def all_checkpoints(model):
    return model_variants(model) + unlearned_checkpoints(model)


def checkpoint_model(wildcards):
    """The base model folder, and for unlearned checkpoints the checkpoint folder (a PEFT adapter
    or a full model)."""
    root = f"results/{wildcards.model}"
    if wildcards.checkpoint in ("base", "retain_ref"):
        return {"model": f"{root}/models/{wildcards.checkpoint}"}
    method, seed = parse_checkpoint(wildcards.checkpoint)
    return {"model": f"{root}/models/base",
            "checkpoint": f"{root}/unlearn/{checkpoint_name(method, seed)}/checkpoint"}


def method_params(wildcards):
    return MODEL_CONFIG[wildcards.model]["unlearn"]["methods"][wildcards.method]


# The facts this model knows (from check_knowledge), the prompts every model-reading job asks.
KNOWN_PROMPTS = "results/{model}/knowledge/prompts.parquet"


def eval_files(wildcards, name):
    """One evaluation artifact (e.g. summary) of every checkpoint of this model."""
    return [f"results/{wildcards.model}/eval/{c}/{name}.parquet"
            for c in all_checkpoints(wildcards.model)]


def eval_summaries(wildcards):
    return eval_files(wildcards, "summary")


def probing_outputs(wildcards):
    m = wildcards.model
    unlearned = unlearned_checkpoints(m)
    return (
        expand("results/{model}/probing/instability/{checkpoint}.parquet", model=m,
               **{"checkpoint": all_checkpoints(m)})
        + expand("results/{model}/probing/shift/{checkpoint}.parquet", model=m, checkpoint=unlearned)
        + expand("results/{model}/probing/shift/{checkpoint}_pca.parquet", checkpoint=unlearned,
                 model=m)
        + expand("results/{model}/probing/{name}.parquet", model=m,
                 name=["activation_overlap", "semantic_similarity", "neuron_agreement"])
        + [f"results/{m}/neurons/contrast.parquet"]
    )


def unlearn_logs(wildcards):
    m = wildcards.model
    return expand("results/{model}/unlearn/{checkpoint}/log.parquet", model=m,
                  **{"checkpoint": unlearned_checkpoints(m)})


def training_logs(wildcards):
    if source_of(wildcards.model) != "testbed":
        return []
    return expand("results/{model}/models/{variant}_training.parquet", model=wildcards.model,
                  variant=model_variants(wildcards.model))


def sequence_outputs(wildcards):
    """Summaries of the sequential study (none when unlearn.sequential.targets is empty)."""
    seq = MODEL_CONFIG[wildcards.model]["unlearn"]["sequential"]
    if not seq["targets"]:
        return []
    return expand("results/{model}/sequential/{method}_seed{seed}/{name}.parquet",
                  model=wildcards.model, method=seq["method"], seed=seq["seeds"],
                  name=["summary", "log"])


def reference_outputs(wildcards):
    """Forget quality and the relearning attack compare with the retain-only reference model,
    which only a testbed has."""
    if not has_reference(wildcards.model):
        return []
    return expand("results/{model}/{path}", model=wildcards.model,
                  path=["quality/summary.parquet", "quality/intervals.parquet",
                        "relearn/attacks.parquet"])


def relearn_checkpoints(model):
    """The relearning attack's targets: retain_ref and the unlearned checkpoints of relearn.seeds."""
    cfg = MODEL_CONFIG[model]
    runs = set(unlearned_checkpoints(model))
    return ["retain_ref"] + [c for m in cfg["unlearn"]["run"] for s in cfg["relearn"]["seeds"]
                             if (c := checkpoint_name(m, s)) in runs]


def relearn_inputs(wildcards):
    """name -> model folder (retain_ref) or checkpoint folder (unlearned)."""
    root = f"results/{wildcards.model}"
    out = {"base": f"{root}/models/base", "retain_ref": f"{root}/models/retain_ref"}
    for name in relearn_checkpoints(wildcards.model)[1:]:
        out[name] = f"{root}/unlearn/{name}/checkpoint"
    return out


def audit_split(model):
    """The audit's parts (evaluation/audit.split_checkpoints over audit.parts)."""
    from actunlearn.evaluation.audit import split_checkpoints
    return split_checkpoints(all_checkpoints(model), MODEL_CONFIG[model]["audit"]["parts"])


def audit_part_inputs(wildcards):
    """name -> model folder (base, retain_ref) or checkpoint folder (unlearned) of one part of
    the audit, the base model always (its probes read the others)."""
    root = f"results/{wildcards.model}"
    names = ["base"] + [c for c in audit_split(wildcards.model)[int(wildcards.part)] if c != "base"]
    return {name: (f"{root}/models/{name}" if name in ("base", "retain_ref")
                   else f"{root}/unlearn/{name}/checkpoint") for name in names}


def audit_parts(wildcards):
    """Every part's per-item tables, for the merge."""
    n = len(audit_split(wildcards.model))
    return {f"{name}_{k}": f"results/{wildcards.model}/audit/parts/{k}/{name}.parquet"
            for k in range(n) for name in ("answers", "exposure", "probes", "lens")}


def localize_outputs(wildcards):
    """The localization ground truth: a testbed's (planted facts need a model whose training
    the study controls)."""
    if source_of(wildcards.model) != "testbed":
        return []
    return expand("results/{model}/localize/{name}.parquet", model=wildcards.model,
                  name=["planted", "planted_neurons", "deletion"])


def byo_outputs():
    """Drift tables of the configured response logs, and probe results of every checkpoint."""
    byo = config["byo"]
    out = expand("results/byo/{name}/summary.parquet", name=sorted(byo["logs"]))
    if byo["probes"]:
        # (a line may not start with `checkpoint`: a Snakemake keyword)
        out += [f"results/{m}/byo/probes/{c}_summary.parquet"
                for m in RUN_MODELS for c in all_checkpoints(m)]
    return out


def token_activation_outputs():
    """Token-level dumps are optional (activations.token_level)."""
    return [f"results/{m}/activations/base_tokens" for m in RUN_MODELS
            if MODEL_CONFIG[m]["activations"]["token_level"]]


def final_outputs():
    per_model = [f"results/{m}/{path}" for m in RUN_MODELS
                 for path in ["report/report.html", "activations/base.parquet", "actunlearn.duckdb"]]
    return per_model + [
        "results/report/report.html",
        "results/actunlearn.duckdb",
        "docs/results.md",
    ] + expand("results/tables/{table}.csv", table=SQL_TABLES) + token_activation_outputs() + \
        byo_outputs()


# Tuning (rules/tune.smk): the sweep reads each model's settings without the tuned overlay.

TUNE = "results/{model}/tune"
VIEW = {name: f"{TUNE}/view/{name}.parquet"
        for name in ("catalog", "corpus", "prompts", "known", "answers", "asked",
                     "reference_corpus")}


def untuned(*path):
    """`setting` without the tuned overlay: what the tuning rules read."""
    return setting(*path, tree=UNTUNED_CONFIG)


def untuned_settings(section, *keys):
    """`settings` without the tuned overlay."""
    return settings(section, *keys, tree=UNTUNED_CONFIG)


def trial_grid(model, method):
    cfg = UNTUNED_CONFIG[model]
    return settings_grid(cfg["tuning"]["spaces"][method])


def tuning_trials(wildcards):
    """Every trial of this model's sweep; the search spaces are checked here, when a sweep is
    asked for (the study does not read them)."""
    cfg = UNTUNED_CONFIG[wildcards.model]
    check_spaces(cfg["tuning"], cfg["unlearn"]["run"], cfg["unlearn"]["methods"],
                 where=f"(model {wildcards.model}) ")
    return [f"results/{wildcards.model}/tune/trials/{m}/{i}_seed{s}.parquet"
            for m in tuned_methods(cfg["tuning"], cfg["unlearn"]["run"])
            for i in range(len(trial_grid(wildcards.model, m))) for s in cfg["tuning"]["seeds"]]


def trial_settings(wildcards):
    """The method's settings (without the overlay) with this trial's values in."""
    base = UNTUNED_CONFIG[wildcards.model]["unlearn"]["methods"][wildcards.method]
    return base | trial_grid(wildcards.model, wildcards.method)[int(wildcards.setting)]


def tuning_reads_ranking(wildcards):
    cfg = UNTUNED_CONFIG[wildcards.model]
    if "contrast" in cfg["ranking"]["scores"]:
        raise ValueError("tuning: ranking.scores 'contrast' needs an activation dump of the "
                         "validation view, which tuning does not make; tune without it")
    return reads_ranking(trial_settings(wildcards))


TUNED_MODELS = [m for m in RUN_MODELS if UNTUNED_CONFIG[m]["tuning"]["enabled"]]
