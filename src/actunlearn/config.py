"""Study configuration: schema validation with errors that name the offending key."""

from __future__ import annotations

import copy
import functools
import re
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


# Method handlers whose output does not depend on the seed: a study runs a method with such a
# handler once, with the first of unlearn.seeds (the registry checks its `deterministic` flags
# against this set).
DETERMINISTIC_HANDLERS = frozenset({"dampen"})


def method_seeds(handler: str, seeds: list[int]) -> list[int]:
    """The seeds a method runs with: all of them, or the first when its handler
    (`unlearn.methods.<name>.handler` of the resolved settings) is deterministic."""
    return list(seeds[:1]) if handler in DETERMINISTIC_HANDLERS else list(seeds)


# Handlers that pick neurons from the ranking (top-k per layer); any method with a setting
# "ranked" (layers, layer) reads the ranking's layer selection. The registry checks its
# `ranks_neurons` flags against this set.
RANKED_NEURON_HANDLERS = frozenset({"masked_lora", "dampen"})


def reads_ranking(settings: dict) -> bool:
    """Whether a method (its resolved settings) reads the neuron ranking: an unlearning job that
    does not is not rerun when the ranking changes."""
    return (settings["handler"] in RANKED_NEURON_HANDLERS
            or any(value == "ranked" for value in settings.values()))


# An unlearned checkpoint's name: method and seed (results/{model}/unlearn/{name}/); base and
# retain_ref are the models that are not unlearned.
_CHECKPOINT = re.compile(r"([a-z][a-z0-9_]*?)_seed(\d+)")


def checkpoint_name(method: str, seed: int) -> str:
    """The name of the checkpoint that `method` unlearned with `seed` (e.g. masked_lora_seed0)."""
    return f"{method}_seed{int(seed)}"


def parse_checkpoint(name: str) -> tuple[str, int]:
    """(method, seed) of an unlearned checkpoint's name; ValueError for any other name."""
    match = _CHECKPOINT.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} is not an unlearned checkpoint name (method_seedN)")
    return match.group(1), int(match.group(2))


def run_of(name: str, single_seed: int | None = None) -> tuple[str, int | None]:
    """(method, seed) of any checkpoint name: an unlearned one's (parse_checkpoint), or the name
    itself with seed `single_seed` (base, retain_ref: single runs; the summary tables give them
    seed 0)."""
    match = _CHECKPOINT.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else (name, single_seed)


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


def _model_study(config: dict, model: str) -> dict:
    """The top-level settings with the model's `overrides` merged in, methods not yet resolved."""
    if model not in config["models"]:
        raise ConfigError(f"invalid configuration:\n  - run_models: {model!r} is not under models "
                          f"(configured: {sorted(config['models'])})")
    study = {k: v for k, v in config.items() if k not in ("models", "run_models")}
    return deep_merge(study, config["models"][model].get("overrides", {}))


def model_config(config: dict, model: str, tuned: dict | None = None) -> dict:
    """The study settings one model runs with: the top-level settings with the model's
    `overrides` merged in (without the `models` and `run_models` keys), then the `tuned` overlay
    (the chosen settings of `snakemake tune`, `load_tuned`), and every method's settings resolved
    (`resolve_methods`): `unlearn.methods.<name>` is the handler and all its arguments,
    `unlearn.families` is folded in and gone."""
    study = _model_study(config, model)
    if tuned:
        study = deep_merge(study, tuned)
    return _with_resolved_methods(study)


def load_tuned(path: str | Path) -> dict | None:
    """The tuned overlay at `path` ({"unlearn": {"methods": {method: {setting: value}}}}, written
    by the tune rule), or None when there is no such file. Raises ConfigError for any other key."""
    path = Path(path)
    if not path.exists():
        return None
    tuned = yaml.safe_load(path.read_text()) or {}
    methods = tuned.get("unlearn", {}).get("methods") if isinstance(tuned.get("unlearn"), dict) else None
    if set(tuned) != {"unlearn"} or set(tuned["unlearn"]) != {"methods"} or not isinstance(methods, dict):
        raise ConfigError(f"invalid configuration:\n  - {path}: a tuned overlay holds only "
                          "unlearn.methods.<method>.<setting> (written by snakemake tune)")
    return tuned


def _with_resolved_methods(study: dict, schema: dict | None = None, prefix: str = "") -> dict:
    unlearn = {k: v for k, v in study["unlearn"].items() if k != "families"}
    unlearn["methods"] = resolve_methods(study["unlearn"], schema, prefix)
    return {**study, "unlearn": unlearn}


# Method settings --------------------------------------------------------------------------------
# A method entry (`unlearn.methods.<name>`) names its handler (a function registered in
# actunlearn.unlearning.methods), optionally a family (`unlearn.families.<family>`, which may extend another
# family), and its own arguments. Its resolved settings: the families' settings (the farthest
# first), then its own; the handler's schema (`$defs.handlers.<handler>`) lists every argument it
# takes, and no other key is accepted.

@functools.lru_cache(maxsize=1)
def _packaged_schema() -> dict:
    return load_schema()


def resolve_methods(unlearn: dict, schema: dict | None = None, prefix: str = "") -> dict[str, dict]:
    """name -> resolved settings ({"handler": ..., argument: value, ...}, in the order of the
    handler's schema) of every method under `unlearn.methods`. A family's setting that the
    method's choices make unused (a `then` rule of the handler's schema that sets it to false, e.g.
    rank and alpha with params: full) is not inherited; the same key set by the method itself is an
    error. Raises ConfigError naming every key a handler does not take (with the family it came
    from), an unknown handler or family, and every schema violation of the resolved settings;
    `prefix` goes before each key path (e.g. the model whose overrides are resolved)."""
    schema = schema if schema is not None else _packaged_schema()
    errors, out = [], {}
    for name, entry in unlearn["methods"].items():
        settings = _resolve_method(name, entry, unlearn["families"], schema, errors)
        if settings is not None:
            out[name] = settings
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {prefix}{e}" for e in errors))
    return out


def _family_chain(family: str | None, families: dict, where: str, errors: list) -> list | None:
    """The family a method names and those it extends, nearest first (None after an error)."""
    chain: list[str] = []
    while family is not None:
        if family in chain:
            errors.append(f"{where}: families extend each other in a cycle "
                          f"({' -> '.join(chain + [family])})")
            return None
        if family not in families:
            errors.append(f"{where}: {family!r} is not under unlearn.families "
                          f"(configured: {sorted(families)})")
            return None
        chain.append(family)
        where, family = f"unlearn.families.{family}.family", families[family].get("family")
    return chain


def _unused_by_choice(spec: dict, settings: dict) -> dict[str, str]:
    """Arguments that the choices in `settings` make unused -> the choice, from the handler's
    rules of the form `if: {properties: {key: {const: value}}}, then: {properties: {arg: false}}`."""
    out = {}
    for rule in spec.get("allOf", []):
        banned = [k for k, v in rule.get("then", {}).get("properties", {}).items() if v is False]
        if banned and jsonschema.Draft202012Validator(rule["if"]).is_valid(settings):
            choice = ", ".join(f"{k}: {v['const']}" for k, v in rule["if"]["properties"].items())
            out.update(dict.fromkeys(banned, choice))
    return out


def _resolve_method(name: str, entry: dict, families: dict, schema: dict,
                    errors: list) -> dict | None:
    where = f"unlearn.methods.{name}"
    handlers = schema["$defs"]["handlers"]
    handler = entry.get("handler")
    if handler not in handlers:
        errors.append(f"{where}.handler: {handler!r} is not a method handler "
                      f"(handlers: {', '.join(handlers)})")
        return None
    spec = handlers[handler]
    arguments = list(spec["properties"])
    chain = _family_chain(entry.get("family"), families, f"{where}.family", errors)
    if chain is None:
        return None
    settings, inherited_from = {}, {}
    for family in reversed(chain):
        for key, value in families[family].items():
            if key == "family":
                continue
            if key not in arguments:
                errors.append(f"unlearn.families.{family}.{key}: not an argument of handler "
                              f"{handler} (method {name} inherits family {family}); a family "
                              "holds only settings that every member takes")
                continue
            settings[key], inherited_from[key] = copy.deepcopy(value), family
    for key, value in entry.items():
        if key in ("handler", "family"):
            continue
        if key not in arguments:
            errors.append(f"{where}.{key}: handler {handler} takes no argument {key!r} "
                          f"(its arguments: {', '.join(arguments)})")
            continue
        settings[key] = copy.deepcopy(value)
        inherited_from.pop(key, None)
    for key, choice in _unused_by_choice(spec, settings).items():
        if key in settings and key not in inherited_from:
            errors.append(f"{where}.{key}: unused by handler {handler} with {choice}")
        settings.pop(key, None)
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], **spec})
    for e in sorted(validator.iter_errors(settings), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in e.absolute_path)
        errors.append(f"{where}{'.' + path if path else ''}: {e.message}")
    return {"handler": handler, **{k: settings[k] for k in arguments if k in settings}}


# Keys that moved (old path -> new path): a configuration written for an earlier layout fails
# with the new place, not with a bare "additional property" error.
MOVED_KEYS = {"evaluate.batch_size": "inference.batch_size",
              "evaluate.max_new_tokens": "inference.max_new_tokens"}


def _check_moved(config: dict) -> None:
    scopes = [("", config)] + [(f"models.{m}.overrides.", spec.get("overrides") or {})
                               for m, spec in (config.get("models") or {}).items()]
    lines = []
    for prefix, scope in scopes:
        for old, new in MOVED_KEYS.items():
            section, key = old.split(".")
            if key in (scope.get(section) or {}):
                lines.append(f"  - {prefix}{old}: moved to {prefix}{new}")
    if lines:
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))


class Settings(dict):
    """The settings one rule's script reads (its `params`): named keys of a config section, never
    the whole section, so that a changed key reruns exactly the rules that read it."""


def pick(section: dict, keys: list[str] | tuple[str, ...], where: str = "") -> Settings:
    """{key: value} for the named `keys` of `section` (dotted keys reach nested ones and keep
    their nesting: "drift.top_k" -> {"drift": {"top_k": ...}}). A missing key raises KeyError
    naming its full path."""
    out = Settings()
    for key in keys:
        node, target = section, out
        *parents, leaf = key.split(".")
        try:
            for part in parents:
                node, target = node[part], target.setdefault(part, {})
            target[leaf] = copy.deepcopy(node[leaf])
        except (KeyError, TypeError):
            raise KeyError(f"no setting {where + '.' if where else ''}{key}") from None
    return out


def validate_config(config: dict, schema: dict | None = None) -> None:
    """Raise ConfigError listing every schema violation (key path + reason), or return None.
    Each model of `run_models` is checked with its overrides merged in."""
    schema = schema if schema is not None else load_schema()
    _check_moved(config)
    _schema_errors(config, schema)
    reserved = sorted(RESERVED_MODEL_NAMES & set(config["models"]))
    if reserved:
        raise ConfigError(f"invalid configuration:\n  - models: {reserved} are folder names under "
                          "results/ shared by all models; rename the model")
    resolve_methods(config["unlearn"], schema)
    for model in config["run_models"]:
        merged = _model_study(config, model)
        prefix = f"models.{model}.overrides -> "
        _schema_errors(merged, schema | {"required": [k for k in schema["required"]
                                                     if k not in ("models", "run_models")]},
                       prefix=prefix)
        _check_study(_with_resolved_methods(merged, schema, prefix),
                     config["models"][model]["source"] == "testbed")


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
