"""Subword tokenizer for the testbed, and a loader that picks the right class.

The testbed's tokenizer is a cased byte-level BPE trained with `tokenizers` on the corpus, so a
typo, a casing change or a word the corpus never had becomes known pieces (bytes at worst), not
one unknown token: the shift sets then test the model, not its vocabulary.

A custom `tokenizers` tokenizer saved beside a Qwen2 config.json is reloaded by AutoTokenizer as
the wrong class, so the loader reads tokenizer_config.json and uses PreTrainedTokenizerFast
for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from actunlearn.models.cards import read_model_card

PAD, EOS, BOS = "<|endoftext|>", "<|im_end|>", "<|im_start|>"
ROLES = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
# A compact chat format: one special token opens each turn, the answer ends with EOS (ChatML's
# five tokens of framing per turn were a quarter of the training tokens). Every segment between
# special tokens is pre-tokenized on its own, so a question's first word gets the pieces it has
# in running text.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|>' }}{{ m['content'] }}"
    "{% if m['role'] == 'assistant' %}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(texts: list[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A cased byte-level BPE of at most `vocab_size` entries (the 256 bytes, the merges, the
    chat special tokens) trained on `texts`. Every word gets a leading space (add_prefix_space),
    so an answer encoded on its own has the pieces it has inside a sentence."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=[PAD, EOS, BOS, *ROLES.values()], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS,
                                   bos_token=BOS, clean_up_tokenization_spaces=False)
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
