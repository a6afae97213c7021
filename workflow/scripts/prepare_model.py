"""A pretrained model as a model folder: GGUF converted to safetensors, or a model card that
points at a hub id / local transformers folder (src/actunlearn/models/sources.py)."""
from actunlearn.models.encoding import prompt_ids
from actunlearn.models.loading import load_model
from actunlearn.models.sources import check_chat_template, prepare_model
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    out = snakemake.output.model
    prepare_model(dict(snakemake.params.spec), out, snakemake.params.cache)
    # fail here, not in a later rule: architecture (load_model checks it) and chat template
    model, tokenizer = load_model(out), load_tokenizer(out)
    check_chat_template(tokenizer)
    print(f"{type(model).__name__}: {model.config.num_hidden_layers} layers, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    print(tokenizer.decode(prompt_ids(tokenizer, "Who directed Inception?")))
