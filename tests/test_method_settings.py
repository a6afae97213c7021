"""Method settings without copies: a method entry names its handler, optionally a family, and its
own arguments; `config.resolve_methods` (through `model_config`, which the workflow's
`method_params` reads) gives every method's full settings."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from actunlearn.config import (
    ConfigError,
    load_schema,
    method_seeds,
    model_config,
    resolve_methods,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())

# The expected migration: every default method's settings as config/config.yaml wrote them out
# before families (commit a81d5c6), one block per method.
_LORA = dict(layers="ranked", top_k=64, rank=8, alpha=16, objective="refusal", steps=100,
             learning_rate=0.002, forget_batch=16, retain_batch=16, unlikelihood_weight=1.0,
             retain_weight=1.0, neighbour_share=0.5)
_BASELINE = dict(layers="ranked", params="lora", rank=8, alpha=16, steps=100, learning_rate=0.002,
                 forget_batch=16, retain_batch=16, retain_weight=1.0, neighbour_share=0.5)
OLD_DEFAULT = {
    "masked_lora": dict(_LORA),
    "random_mask_lora": dict(_LORA),
    "lora": dict(_LORA),
    "grad_ascent": dict(_BASELINE, retain_weight=0.0),
    "grad_diff": dict(_BASELINE),
    "npo": dict(_BASELINE, beta=0.1),
    "simnpo": dict(_BASELINE, beta=2.5, gamma=0.0),
    "dampen": dict(layers="ranked", top_k=256, scale=0.0),
    "ssd": dict(modules=["embed_tokens", "mlp.down_proj", "mlp.up_proj", "mlp.gate_proj"],
                alpha=10.0, dampening=0.1),
    # (issue 13: RMU trains the LoRA family's adapter budget, not whole down_proj weights)
    "rmu": dict(params="lora", rank=8, lora_alpha=16, layer="ranked", update_layers="auto",
                steering_coef=20.0,
                forget_positions="answer", alpha=10.0, steps=100, learning_rate=0.005,
                forget_batch=16, retain_batch=16, neighbour_share=0.5),
}
# Keys the old blocks carried that their handler ignores: deliberately gone.
IGNORED_BEFORE = {"lora": {"top_k"}}
# The methods each model or preset runs, as they were resolved before (changes to the default).
OLD_RUNS = {
    ("config.yaml", "smollm2"): {
        # (issue 13: the hand-picked learning rate 0.005 is gone; config/tuned/smollm2.yaml sets it)
        "masked_lora": dict(steps=20, forget_batch=4, retain_batch=8),
        "lora": dict(steps=20, forget_batch=4, retain_batch=8)},
    ("tests/config/tiny.yaml", "testbed"): {
        "masked_lora": dict(layers="all", top_k=32, steps=80, learning_rate=0.003),
        "random_mask_lora": dict(layers="all", top_k=32, steps=80, learning_rate=0.003),
        "npo": dict(steps=80)},
    ("config/qwen2.5-3b.yaml", "qwen_original"): {
        "masked_lora": dict(top_k=3, rank=1, alpha=1, steps=26, learning_rate=5e-05,
                            forget_batch=8, mask_scale=0.05)},
    ("config/qwen2.5-3b.yaml", "qwen"): {m: {} for m in ["masked_lora", "random_mask_lora", "lora",
                                                        "grad_diff", "npo", "simnpo", "rmu"]},
}


def _old(method, changes):
    out = {**OLD_DEFAULT[method], **changes}
    return {k: v for k, v in out.items() if k not in IGNORED_BEFORE.get(method, set())}


def _overlaid(*overlays):
    """The config as Snakemake builds it: config/config.yaml, then each --configfile merged in."""
    config = copy.deepcopy(DEFAULT)
    for overlay in overlays:
        update_config(config, copy.deepcopy(overlay))
    return config


def _resolved(config, model="testbed"):
    validate_config(config)
    return model_config(config, model)["unlearn"]["methods"]


def test_every_default_method_resolves_to_its_former_settings():
    methods = _resolved(DEFAULT)
    assert set(methods) == set(OLD_DEFAULT)
    for name, settings in methods.items():
        assert settings["handler"] == name
        assert {k: v for k, v in settings.items() if k != "handler"} == _old(name, {}), name


@pytest.mark.parametrize("preset, model", sorted(OLD_RUNS))
def test_presets_run_their_methods_with_the_former_settings(preset, model):
    overlay = [] if preset == "config.yaml" else [yaml.safe_load((ROOT / preset).read_text())]
    config = _overlaid(*overlay)
    methods = _resolved(config, model)
    assert model_config(config, model)["unlearn"]["run"] == list(OLD_RUNS[preset, model])
    for name, changes in OLD_RUNS[preset, model].items():
        assert {k: v for k, v in methods[name].items() if k != "handler"} == _old(name, changes)


def test_resolved_config_has_no_families_and_keeps_the_rest():
    unlearn = model_config(DEFAULT, "testbed")["unlearn"]
    assert "families" not in unlearn
    assert {k: v for k, v in unlearn.items() if k != "methods"} == \
        {k: v for k, v in DEFAULT["unlearn"].items() if k not in ("methods", "families")}


def test_a_user_overlay_changing_a_family_reaches_every_member():
    config = _overlaid({"unlearn": {"families": {"budget": {"steps": 7},
                                                 "lora": {"rank": 4},
                                                 "baseline": {"retain_weight": 0.5}}}})
    methods = _resolved(config)
    trained = ["masked_lora", "random_mask_lora", "lora", "grad_ascent", "grad_diff", "npo",
               "simnpo", "rmu"]
    assert {m: methods[m]["steps"] for m in trained} == dict.fromkeys(trained, 7)
    assert {m: methods[m]["rank"] for m in ("masked_lora", "random_mask_lora", "lora")} == \
        dict.fromkeys(("masked_lora", "random_mask_lora", "lora"), 4)
    assert methods["npo"]["rank"] == 8          # another family
    assert methods["grad_diff"]["retain_weight"] == 0.5
    assert methods["grad_ascent"]["retain_weight"] == 0.0   # a method's own key wins
    assert "steps" not in methods["dampen"]     # not a member


def test_a_model_override_of_a_family_reaches_its_members_for_that_model_only():
    smol, testbed = _resolved(DEFAULT, "smollm2"), _resolved(DEFAULT, "testbed")
    assert smol["random_mask_lora"]["steps"] == smol["rmu"]["steps"] == 20
    assert testbed["random_mask_lora"]["steps"] == 100


def test_a_method_overlay_changes_that_method_alone():
    methods = _resolved(_overlaid({"unlearn": {"methods": {"masked_lora": {"steps": 81}}}}))
    assert methods["masked_lora"]["steps"] == 81 and methods["random_mask_lora"]["steps"] == 100


def test_full_params_do_not_inherit_lora_settings():
    """rank and alpha are LoRA settings: with params: full the family's values are not inherited,
    for one method or for the whole family (an overlay cannot delete the family's keys)."""
    one = _resolved(_overlaid({"unlearn": {"methods": {"npo": {"params": "full"}}}}))
    assert one["npo"]["params"] == "full" and "rank" not in one["npo"] and "alpha" not in one["npo"]
    assert one["grad_diff"]["rank"] == 8
    every = _resolved(_overlaid({"unlearn": {"families": {"baseline": {"params": "full"}}}}))
    assert all("rank" not in every[m] for m in ("grad_ascent", "grad_diff", "npo", "simnpo"))
    ascent = _resolved(_overlaid({"unlearn": {"methods": {"lora": {"objective": "ascent"}}}}))
    assert "unlikelihood_weight" not in ascent["lora"]
    assert ascent["masked_lora"]["unlikelihood_weight"] == 1.0


@pytest.mark.parametrize("overlay, message", [
    ({"methods": {"lora": {"top_k": 64}}},
     r"unlearn.methods.lora.top_k: handler lora takes no argument 'top_k'"),
    ({"methods": {"lora": {"mask_scale": 0.05}}},
     r"unlearn.methods.lora.mask_scale: handler lora takes no argument 'mask_scale'"),
    ({"methods": {"npo": {"params": "full", "rank": 4}}},
     r"unlearn.methods.npo.rank: unused by handler npo with params: full"),
    ({"methods": {"masked_lora": {"objective": "ascent", "unlikelihood_weight": 2.0}}},
     r"unlearn.methods.masked_lora.unlikelihood_weight: unused by handler masked_lora with "
     r"objective: ascent"),
    ({"families": {"lora": {"top_k": 64}}},
     r"unlearn.families.lora.top_k: not an argument of handler lora \(method lora inherits "
     r"family lora\)"),
    ({"families": {"budget": {"scale": 0.5}}},
     r"unlearn.families.budget.scale: not an argument of handler masked_lora"),
    ({"methods": {"rmu": {"family": "lora"}}},
     r"unlearn.families.lora.layers: not an argument of handler rmu"),
    ({"methods": {"ssd": {"dampening": 0}}}, r"unlearn.methods.ssd.dampening: 0 is less than"),
    ({"methods": {"masked_lora_small": {"handler": "masked_lora", "family": "lora"}}},
     r"unlearn.methods.masked_lora_small: 'top_k' is a required property"),
    ({"methods": {"magic": {"handler": "magic"}}},
     r"unlearn.methods.magic.handler: 'magic' is not a method handler \(handlers: masked_lora,"),
    ({"methods": {"magic": {"steps": 3}}}, r"unlearn.methods.magic: 'handler' is a required"),
    ({"methods": {"npo": {"family": "baselines"}}},
     r"unlearn.methods.npo.family: 'baselines' is not under unlearn.families"),
    ({"families": {"budget": {"family": "lora"}}},
     r"families extend each other in a cycle \(lora -> adapter -> budget -> lora\)"),
])
def test_a_key_a_method_ignores_is_rejected_by_name(overlay, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_overlaid({"unlearn": overlay}))


def test_a_bad_override_names_the_model():
    config = copy.deepcopy(DEFAULT)
    config["models"]["smollm2"]["overrides"]["unlearn"]["methods"] = {"lora": {"top_k": 8}}
    with pytest.raises(ConfigError, match=r"models.smollm2.overrides -> unlearn.methods.lora.top_k"):
        validate_config(config)


def test_every_error_is_listed_at_once():
    unlearn = _overlaid({"unlearn": {"methods": {"lora": {"top_k": 1}, "dampen": {"steps": 2}}}})
    with pytest.raises(ConfigError) as info:
        resolve_methods(unlearn["unlearn"])
    assert "unlearn.methods.lora.top_k" in str(info.value)
    assert "unlearn.methods.dampen.steps" in str(info.value)


def test_a_new_method_is_one_config_entry_with_a_registered_handler():
    methods = _resolved(_overlaid({"unlearn": {
        "methods": {"masked_lora_rank_four": {"handler": "masked_lora", "family": "lora",
                                              "top_k": 16, "rank": 4}},
        "run": ["masked_lora", "masked_lora_rank_four"]}}))
    assert methods["masked_lora_rank_four"] == {**methods["masked_lora"], "top_k": 16, "rank": 4}


def test_every_registered_handler_has_an_argument_schema():
    from actunlearn.unlearning.methods import METHODS
    assert set(METHODS) == set(load_schema()["$defs"]["handlers"])


def test_deterministic_handlers_run_once():
    assert method_seeds("dampen", [0, 1, 2]) == [0]
    assert method_seeds("masked_lora", [0, 1, 2]) == [0, 1, 2]
