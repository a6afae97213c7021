import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actunlearn.config import ConfigError, validate_config
from actunlearn.data.catalog import CatalogError, all_titles, check_forget_titles

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_default_config_is_valid():
    validate_config(DEFAULT)


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["catalog"].update(colour="red"), r"catalog: Additional properties .*'colour'"),
    (lambda c: c["testbed"].update(epochs="ten"), r"testbed.epochs: 'ten' is not of type 'integer'"),
    (lambda c: c.update(sed=1), r"<top level>: Additional properties .*'sed'"),
    (lambda c: c["unlearn"]["methods"]["masked_lora"].update(layers=[0, 9]), r"layers \[9\] do not exist"),
    (lambda c: c["unlearn"]["methods"]["masked_lora"].update(top_k=100000), r"top_k: 100000 exceeds"),
    (lambda c: c["activations"].update(dtype="int8"), r"activations.dtype: 'int8' is not one of"),
    (lambda c: c["unlearn"]["methods"].update(magic={}),
     r"unlearn.methods.magic: 'handler' is a required property"),
    (lambda c: c["unlearn"]["methods"]["lora"].update(top_k=64),
     r"unlearn.methods.lora.top_k: handler lora takes no argument 'top_k'"),
    (lambda c: c["unlearn"]["families"]["lora"].update(layers=[0, 9]),
     r"unlearn.methods.masked_lora.layers: layers \[9\] do not exist"),
    (lambda c: c["ranking"].update(scores=["magic"]), r"ranking.scores.0: 'magic' is not one of"),
    (lambda c: c["unlearn"].update(run=["masked_lora", "npo_typo"]),
     r"unlearn.run: \['npo_typo'\] have no settings"),
    (lambda c: c["ranking"]["layers"].update(select="explicit", explicit=[]),
     r"ranking.layers.explicit: empty"),
    (lambda c: c["ranking"]["layers"].update(select="explicit", explicit=[7]),
     r"ranking.layers.explicit: layers \[7\] do not exist"),
    (lambda c: c.update(run_models=["testbed", "gpt5"]), r"run_models: 'gpt5' is not under models"),
    (lambda c: c["unlearn"].update(seeds=[0]), r"relearn.seeds: \[1, 2\] are not in unlearn.seeds"),
    (lambda c: c["models"].update(corpus={"source": "testbed"}), r"models: \['corpus'\] are folder"),
    (lambda c: c["models"].update(qwen={"source": "hf"}), r"models.qwen: 'id' is a required"),
    (lambda c: c["models"].update(q={"source": "gguf", "gguf": {"package": "x"}}),
     r"models.q.gguf: .* is not valid under any of the given schemas"),
    (lambda c: c["models"]["smollm2"]["overrides"]["inference"].update(max_new_tokens=0),
     r"models.smollm2.overrides -> inference.max_new_tokens: 0 is less than"),
    (lambda c: c["models"]["smollm2"]["overrides"]["unlearn"].update(run=["masked_lora", "typo"]),
     r"unlearn.run: \['typo'\] have no settings"),
])
def test_bad_config_names_the_problem(mutate, message):
    config = copy.deepcopy(DEFAULT)
    mutate(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_model_overrides_merge_into_the_study_settings():
    from actunlearn.config import model_config
    smol = model_config(DEFAULT, "smollm2")
    assert smol["unlearn"]["run"] == ["masked_lora", "lora"] and smol["unlearn"]["seeds"] == [0]
    # merged key by key: untouched settings of a method stay those of the study
    assert smol["unlearn"]["methods"]["masked_lora"]["steps"] == 20
    assert smol["unlearn"]["methods"]["masked_lora"]["forget_batch"] == 4
    assert smol["unlearn"]["methods"]["masked_lora"]["rank"] == \
        DEFAULT["unlearn"]["families"]["adapter"]["rank"]
    testbed = model_config(DEFAULT, "testbed")["unlearn"]
    assert testbed["methods"]["masked_lora"]["steps"] == 100   # (tests/test_method_settings.py)
    assert "models" not in smol and "run_models" not in smol


def test_a_tuned_overlay_wins_over_the_configured_settings_and_names_bad_keys(tmp_path):
    from actunlearn.config import load_tuned, model_config
    path = tmp_path / "testbed.yaml"
    assert load_tuned(path) is None   # no file: the configured settings
    path.write_text("unlearn:\n  methods:\n    masked_lora: {learning_rate: 0.0123, top_k: 7}\n")
    tuned = model_config(DEFAULT, "testbed", load_tuned(path))["unlearn"]["methods"]["masked_lora"]
    assert (tuned["learning_rate"], tuned["top_k"]) == (0.0123, 7)
    assert tuned["steps"] == model_config(DEFAULT, "testbed")["unlearn"]["methods"]["masked_lora"]["steps"]
    path.write_text("unlearn:\n  methods:\n    masked_lora: {learnin_rate: 0.01}\n")
    with pytest.raises(ConfigError, match="learnin_rate"):
        model_config(DEFAULT, "testbed", load_tuned(path))
    path.write_text("catalog: {n_films: 3}\n")
    with pytest.raises(ConfigError, match="only unlearn.methods"):
        load_tuned(path)


def test_unknown_forget_title_lists_closest_titles():
    with pytest.raises(CatalogError, match=r"unknown title 'Inceptoin'.*'Inception'"):
        check_forget_titles(["Inceptoin"], all_titles())


@pytest.mark.parametrize("overlay, message", [
    ({"catalog": {"forget": ["Inceptoin"]}}, "unknown title 'Inceptoin'"),
    ({"testbed": {"epochs": "ten"}}, "testbed.epochs: 'ten' is not of type 'integer'"),
    ({"bogus": 1}, "'bogus' was unexpected"),
])
def test_snakemake_fails_before_any_work(tmp_path, overlay, message):
    overlay_file = tmp_path / "bad.yaml"
    overlay_file.write_text(yaml.safe_dump(overlay))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "-n", "--cores", "1",
         "--configfile", str(overlay_file), "--directory", str(tmp_path),
         "--snakefile", str(ROOT / "workflow/Snakefile")],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_pick_keeps_only_the_named_keys_with_their_nesting():
    from actunlearn.config import Settings, pick
    section = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    got = pick(section, ["a", "b.c"], "s")
    assert got == {"a": 1, "b": {"c": 2}} and isinstance(got, Settings)
    with pytest.raises(KeyError, match="no setting s.b.x"):
        pick(section, ["b.x"], "s")


def test_a_moved_key_names_its_new_place():
    cfg = copy.deepcopy(DEFAULT)
    cfg["evaluate"]["batch_size"] = 8
    with pytest.raises(ConfigError, match=r"evaluate.batch_size: moved to inference.batch_size"):
        validate_config(cfg)
