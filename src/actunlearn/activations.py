"""Activation dumps: one Parquet row per (prompt, layer) with fixed-size vectors.

Columns: prompt_id, layer, resid_mean, resid_last, mlp_mean, mlp_last. *_mean averages over the
prompt's tokens (chat-formatted, with the assistant header), *_last is the last token, i.e. the
position that predicts the first answer token.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from actunlearn.hooks import capture
from actunlearn.modeling import batches, collate, decoder_layers, prompt_ids
from actunlearn.provenance import METADATA_KEY

DTYPES = {"float16": (np.float16, pa.float16()), "float32": (np.float32, pa.float32())}


def activation_schema(hidden: int, neurons: int, dtype: str) -> pa.Schema:
    value = DTYPES[dtype][1]
    return pa.schema([
        ("prompt_id", pa.int64()), ("layer", pa.int16()),
        ("resid_mean", pa.list_(value, hidden)), ("resid_last", pa.list_(value, hidden)),
        ("mlp_mean", pa.list_(value, neurons)), ("mlp_last", pa.list_(value, neurons)),
    ])


def _fixed(matrix: np.ndarray, value_type: pa.DataType) -> pa.FixedSizeListArray:
    flat = pa.array(matrix.reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


@torch.no_grad()
def pooled_activations(model, batch: dict[str, torch.Tensor], layers: list[int]):
    """{layer: (resid_mean, resid_last, mlp_mean, mlp_last)} for one right-padded batch."""
    mask = batch["attention_mask"].unsqueeze(-1).float()
    last = batch["attention_mask"].sum(1) - 1
    rows = torch.arange(len(last))
    with capture(model, layers) as cap:
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    out = {}
    for i in layers:
        r, m = cap.resid[i].float(), cap.mlp[i].float()
        out[i] = ((r * mask).sum(1) / mask.sum(1), r[rows, last],
                  (m * mask).sum(1) / mask.sum(1), m[rows, last])
    return out


def dump_activations(model, tokenizer, prompts, path: str | Path, dtype: str, prov: dict,
                     batch_size: int = 64, device: str = "cpu") -> int:
    """Stream activations of every layer for every prompt to `path`; returns rows written."""
    np_dtype, value_type = DTYPES[dtype]
    layers = list(range(len(decoder_layers(model))))
    cfg = model.config
    schema = activation_schema(cfg.hidden_size, cfg.intermediate_size, dtype)
    schema = schema.with_metadata({METADATA_KEY: json.dumps(prov, sort_keys=True, default=str)})
    records = list(zip(prompts.prompt_id.tolist(), prompts.question.tolist()))
    n = 0
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        for chunk in batches(records, batch_size):
            examples = [(prompt_ids(tokenizer, q), []) for _, q in chunk]
            acts = pooled_activations(model, collate(examples, tokenizer.pad_token_id, device), layers)
            ids = np.array([pid for pid, _ in chunk], dtype=np.int64)
            for i in layers:
                cols = [a.cpu().numpy().astype(np_dtype) for a in acts[i]]
                table = pa.table([pa.array(ids), pa.array(np.full(len(ids), i, np.int16))]
                                 + [_fixed(c, value_type) for c in cols], schema=schema)
                writer.write_table(table)
                n += len(ids)
    return n
