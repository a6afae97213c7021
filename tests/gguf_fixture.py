"""A tiny Llama GGUF file (random weights, byte-level BPE tokenizer, ChatML template) for tests.

It is laid out like llama.cpp's export of SmolLM2: architecture `llama`, F32 tensors under llama.cpp
names, tied embeddings (no `output.weight`), a `gpt2` tokenizer with merges, and a chat template.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
from transformers.convert_slow_tokenizer import bytes_to_unicode

HIDDEN = 32
LAYERS = 2
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 64
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# merge pairs in the byte-level spelling ("Ġ" is a space); each adds the joined token to the vocabulary
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("o", "n"), ("e", "r"), ("Ġ", "a"),
          ("Ġ", "w"), ("a", "s"), ("Ġw", "as"), ("Ġ", "I"), ("Ġ", "N"), ("o", "l"), ("a", "n"),
          ("Ġ", "d"), ("i", "r"), ("e", "c"), ("t", "ed")]


def _vocabulary() -> tuple[list[str], list[int], list[str]]:
    """Tokens, their llama.cpp token types, and merges: specials, the 256 bytes, then merged pieces."""
    tokens = list(SPECIALS) + list(bytes_to_unicode().values())
    types = [int(gguf.TokenType.CONTROL)] * len(SPECIALS) + [int(gguf.TokenType.NORMAL)] * 256
    merges = []
    for left, right in MERGES:
        if left + right not in tokens:
            if left not in tokens or right not in tokens:
                continue
            tokens.append(left + right)
            types.append(int(gguf.TokenType.NORMAL))
        merges.append(f"{left} {right}")
    return tokens, types, merges


def _llama_cpp_permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """Reorder the rows of a q/k projection from the HF rotary layout (two halves per head) to
    llama.cpp's interleaved one; transformers' GGUF loader undoes this."""
    half = weight.shape[0] // heads // 2
    return weight.reshape(heads, 2, half, -1).swapaxes(1, 2).reshape(weight.shape)


def tiny_llama_weights(vocab_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights keyed by their transformers names (HF layout, before any permutation)."""
    rng = np.random.default_rng(seed)
    head_dim = HIDDEN // HEADS

    def matrix(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.1).astype(np.float32)

    def norm() -> np.ndarray:
        return (1.0 + rng.standard_normal(HIDDEN) * 0.1).astype(np.float32)

    weights = {"model.embed_tokens.weight": matrix(vocab_size, HIDDEN), "model.norm.weight": norm()}
    for i in range(LAYERS):
        prefix = f"model.layers.{i}."
        weights |= {
            prefix + "input_layernorm.weight": norm(),
            prefix + "post_attention_layernorm.weight": norm(),
            prefix + "self_attn.q_proj.weight": matrix(HEADS * head_dim, HIDDEN),
            prefix + "self_attn.k_proj.weight": matrix(KV_HEADS * head_dim, HIDDEN),
            prefix + "self_attn.v_proj.weight": matrix(KV_HEADS * head_dim, HIDDEN),
            prefix + "self_attn.o_proj.weight": matrix(HIDDEN, HEADS * head_dim),
            prefix + "mlp.gate_proj.weight": matrix(INTERMEDIATE, HIDDEN),
            prefix + "mlp.up_proj.weight": matrix(INTERMEDIATE, HIDDEN),
            prefix + "mlp.down_proj.weight": matrix(HIDDEN, INTERMEDIATE),
        }
    return weights


def _gguf_tensors(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same weights under llama.cpp tensor names, q/k rows permuted as llama.cpp stores them."""
    out = {"token_embd.weight": weights["model.embed_tokens.weight"],
           "output_norm.weight": weights["model.norm.weight"]}
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for i in range(LAYERS):
        for hf, cpp in names.items():
            tensor = weights[f"model.layers.{i}.{hf}.weight"]
            if cpp == "attn_q":
                tensor = _llama_cpp_permute(tensor, HEADS)
            elif cpp == "attn_k":
                tensor = _llama_cpp_permute(tensor, KV_HEADS)
            out[f"blk.{i}.{cpp}.weight"] = np.ascontiguousarray(tensor)
    return out


def write_tiny_llama_gguf(path: Path, seed: int = 0) -> Path:
    """Write the tiny Llama GGUF to `path` and return it."""
    tokens, types, merges = _vocabulary()
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name("tiny-llama-test")
    writer.add_context_length(128)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(INTERMEDIATE)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(SPECIALS.index("<|im_start|>"))
    writer.add_eos_token_id(SPECIALS.index("<|im_end|>"))
    writer.add_pad_token_id(SPECIALS.index("<|im_end|>"))
    writer.add_unk_token_id(SPECIALS.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)
    for name, tensor in _gguf_tensors(tiny_llama_weights(len(tokens), seed)).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
