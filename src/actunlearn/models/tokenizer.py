"""Word-level tokenizer for the testbed, and a loader that picks the right class.

A custom `tokenizers` tokenizer saved beside a Qwen2 config.json is reloaded by AutoTokenizer as
the wrong class, so the loader reads tokenizer_config.json and uses PreTrainedTokenizerFast
for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from actunlearn.models.cards import read_model_card

PAD, EOS, BOS, UNK = "<|endoftext|>", "<|im_end|>", "<|im_start|>", "<|unk|>"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A lower-cased word-level vocabulary over `texts` plus the chat special tokens."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    roles = ["system", "user", "assistant"]
    trainer = trainers.WordLevelTrainer(special_tokens=[PAD, EOS, BOS, UNK], min_frequency=1)
    tok.train_from_iterator(list(texts) + roles, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   bos_token=BOS, unk_token=UNK)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def load_tokenizer(path: str | Path):
    """Load the tokenizer of a model folder; testbed tokenizers come back as
    PreTrainedTokenizerFast. A model card (actunlearn_model.json) may point at the weights'
    folder or hub id, and gives the system prompt that `prompt_ids` puts before every question
    (kept on the tokenizer as `actunlearn_system_prompt`)."""
    card = read_model_card(path)
    tokenizer = _load(card.get("weights") or str(path), card)
    tokenizer.actunlearn_system_prompt = card.get("system_prompt")
    return tokenizer


def _load(where: str, card: dict):
    cfg_file = Path(where) / "tokenizer_config.json"
    if cfg_file.exists():
        cls = json.loads(cfg_file.read_text()).get("tokenizer_class")
        if cls in ("PreTrainedTokenizerFast", "TokenizersBackend"):
            return PreTrainedTokenizerFast.from_pretrained(where)
    kwargs = {"revision": card["revision"]} if card.get("revision") else {}
    return AutoTokenizer.from_pretrained(where, trust_remote_code=bool(card.get("trust_remote_code")),
                                         **kwargs)
