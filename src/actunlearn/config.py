"""Study configuration: schema validation with errors that name the offending key."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A study configuration that cannot be run; the message names the key and the problem."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


# Unlearning methods whose output does not depend on the seed: a study runs each once, with the
# first of unlearn.seeds (the registry checks its `deterministic` flags against this set).
DETERMINISTIC_METHODS = frozenset({"dampen"})


def method_seeds(method: str, seeds: list[int]) -> list[int]:
    """The seeds a method runs with: all of them, or the first for a deterministic method."""
    return list(seeds[:1]) if method in DETERMINISTIC_METHODS else list(seeds)


# Folders under results/ shared by every model: no model may take these names.
RESERVED_MODEL_NAMES = {"catalog", "corpus", "tokenizer", "cache", "tables", "report", "byo"}


def _schema_errors(config: dict, schema: dict, prefix: str = "") -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"  - {prefix}{_where(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in (nested dicts merged key by key; any other
    value, lists included, replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def model_config(config: dict, model: str) -> dict:
    """The study settings one model runs with: the top-level settings with the model's
    `overrides` merged in (without the `models` and `run_models` keys)."""
    if model not in config["models"]:
        raise ConfigError(f"invalid configuration:\n  - run_models: {model!r} is not under models "
                          f"(configured: {sorted(config['models'])})")
    study = {k: v for k, v in config.items() if k not in ("models", "run_models")}
    return deep_merge(study, config["models"][model].get("overrides", {}))


def validate_config(config: dict, schema: dict | None = None) -> None:
    """Raise ConfigError listing every schema violation (key path + reason), or return None.
    Each model of `run_models` is checked with its overrides merged in."""
    schema = schema if schema is not None else load_schema()
    _schema_errors(config, schema)
    reserved = sorted(RESERVED_MODEL_NAMES & set(config["models"]))
    if reserved:
        raise ConfigError(f"invalid configuration:\n  - models: {reserved} are folder names under "
                          "results/ shared by all models; rename the model")
    for model in config["run_models"]:
        merged = model_config(config, model)
        _schema_errors(merged, schema | {"required": [k for k in schema["required"]
                                                     if k not in ("models", "run_models")]},
                       prefix=f"models.{model}.overrides -> ")
        _check_study(merged, config["models"][model]["source"] == "testbed")


def _check_study(config: dict, testbed: bool) -> None:
    if testbed:
        _check_layers(config)
    methods = config["unlearn"]["methods"]
    missing = [m for m in config["unlearn"]["run"] if m not in methods]
    if missing:
        raise ConfigError(f"invalid configuration:\n  - unlearn.run: {missing} have no settings "
                          f"under unlearn.methods (configured: {sorted(methods)})")
    extra = sorted(set(config["relearn"]["seeds"]) - set(config["unlearn"]["seeds"]))
    if extra:
        raise ConfigError(f"invalid configuration:\n  - relearn.seeds: {extra} are not in "
                          f"unlearn.seeds {config['unlearn']['seeds']}: no such checkpoints to attack")
    seq = config["unlearn"]["sequential"]
    if seq["targets"] and seq["method"] not in methods:
        raise ConfigError(f"invalid configuration:\n  - unlearn.sequential.method: {seq['method']!r} "
                          f"has no settings under unlearn.methods (configured: {sorted(methods)})")


def _missing_layers(key: str, layers, n_layers: int) -> None:
    bad = [i for i in layers if i >= n_layers]
    if bad:
        raise ConfigError(f"invalid configuration:\n  - {key}: layers {bad} do not exist "
                          f"(the model has {n_layers} layers)")


def _check_layers(config: dict) -> None:
    n_layers = config["testbed"]["num_layers"]
    rule = config["ranking"]["layers"]
    if rule["select"] == "explicit":
        if not rule["explicit"]:
            raise ConfigError("invalid configuration:\n  - ranking.layers.explicit: empty, but "
                              "ranking.layers.select is 'explicit'")
        _missing_layers("ranking.layers.explicit", rule["explicit"], n_layers)
    if rule["select"] == "top" and rule["top"] > n_layers:
        raise ConfigError(f"invalid configuration:\n  - ranking.layers.top: {rule['top']} > the "
                          f"model's {n_layers} layers")
    for method, settings in config["unlearn"]["methods"].items():
        layers = settings.get("layers", "all")
        if layers not in ("all", "ranked"):
            _missing_layers(f"unlearn.methods.{method}.layers", layers, n_layers)
        if settings.get("top_k", 0) > config["testbed"]["intermediate_size"]:
            raise ConfigError(f"invalid configuration:\n  - unlearn.methods.{method}.top_k: "
                              f"{settings['top_k']} exceeds the {config['testbed']['intermediate_size']} "
                              "MLP neurons per layer")
