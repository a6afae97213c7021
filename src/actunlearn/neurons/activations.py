"""Activation dumps: pooled (one row per prompt and layer) and token-level (one row per token).

Pooled file columns: prompt_id, layer, resid_mean, resid_last, mlp_mean, mlp_last. *_mean averages
over the prompt's tokens (chat-formatted, with the assistant header), *_last is the last token,
i.e. the position that predicts the first answer token.

Token-level dumps (optional) are a directory of Parquet shards part-00000.parquet, ... with one
row per (prompt, layer, token): prompt_id, layer, token (position in the prompt), token_id, resid,
mlp. Padding positions are never written.

Both go through the same path: prompts are encoded and right-padded in batches, one forward pass
per batch runs under `hooks.capture` (no logits beyond the last position, no KV cache: neither
changes the hidden states), and what is kept is converted to the output dtype once, in torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from actunlearn.models.encoding import batches, collate, prompt_ids
from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers
from actunlearn.provenance import METADATA_KEY

DTYPES = {"float16": (np.float16, pa.float16()), "float32": (np.float32, pa.float32())}
TORCH_DTYPES = {"float16": torch.float16, "float32": torch.float32}
SHARD_NAME = "part-{:05d}.parquet"


def activation_schema(hidden: int, neurons: int, dtype: str) -> pa.Schema:
    value = DTYPES[dtype][1]
    return pa.schema([
        ("prompt_id", pa.int64()), ("layer", pa.int16()),
        ("resid_mean", pa.list_(value, hidden)), ("resid_last", pa.list_(value, hidden)),
        ("mlp_mean", pa.list_(value, neurons)), ("mlp_last", pa.list_(value, neurons)),
    ])


def token_activation_schema(hidden: int, neurons: int, dtype: str) -> pa.Schema:
    value = DTYPES[dtype][1]
    return pa.schema([
        ("prompt_id", pa.int64()), ("layer", pa.int16()), ("token", pa.int32()),
        ("token_id", pa.int32()),
        ("resid", pa.list_(value, hidden)), ("mlp", pa.list_(value, neurons)),
    ])


def _with_provenance(schema: pa.Schema, prov: dict) -> pa.Schema:
    return schema.with_metadata({METADATA_KEY: json.dumps(prov, sort_keys=True, default=str)})


def writer_options(schema: pa.Schema) -> dict:
    """Parquet writer settings for activation files (lossless; the values read back unchanged).

    Dictionary encoding only for the scalar key columns: on float vectors it fails over to plain
    after a page anyway and inflates files (float32 by a third) and slows writing. Float32 vectors
    are byte-stream-split (exponent bytes together compress well); float16 ones are not, because
    DuckDB cannot read that encoding for float16.
    """
    keys = [f.name for f in schema if not pa.types.is_fixed_size_list(f.type)]
    split = [f"{f.name}.list.element" for f in schema
             if pa.types.is_fixed_size_list(f.type) and f.type.value_type == pa.float32()]
    return {"compression": "zstd", "use_dictionary": keys, "use_byte_stream_split": split or False}


def _fixed(matrix: np.ndarray, value_type: pa.DataType) -> pa.FixedSizeListArray:
    flat = pa.array(matrix.reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


def _to_numpy(tensor: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """One conversion in torch (faster than numpy's float16 cast, bit-identical); none if equal."""
    return tensor.to(dtype).cpu().numpy()


def _num_layers(model) -> list[int]:
    return list(range(len(decoder_layers(model))))


def prompt_batches(tokenizer, prompts, batch_size: int = 64, device: str = "cpu"):
    """Yield (prompt ids as int64 numpy, right-padded batch) over a prompts frame, in order."""
    records = list(zip(prompts.prompt_id.tolist(), prompts.question.tolist()))
    for chunk in batches(records, batch_size):
        examples = [(prompt_ids(tokenizer, q), []) for _, q in chunk]
        ids = np.array([pid for pid, _ in chunk], dtype=np.int64)
        yield ids, collate(examples, tokenizer.pad_token_id, device)


def _forward(model, batch: dict[str, torch.Tensor]):
    """The forward pass every dump uses: only the last position's logits, no KV cache."""
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                 use_cache=False, logits_to_keep=1)


@torch.no_grad()
def bare_forward(model, batch: dict[str, torch.Tensor]) -> None:
    """The dumps' forward pass without hooks (the reference for capture overhead)."""
    _forward(model, batch)


@torch.no_grad()
def pooled_activations(model, batch: dict[str, torch.Tensor], layers: list[int]):
    """{layer: (resid_mean, resid_last, mlp_mean, mlp_last)} for one right-padded batch.

    Pooled on the fly, inside the hooks: each layer's full activations are dropped as soon as the
    model is done with them (keeping every layer's until the pass ends costs more, in allocations
    and page faults, than the pooling itself).
    """
    mask = batch["attention_mask"].unsqueeze(-1).float()
    count = mask.sum(1)
    last = batch["attention_mask"].sum(1) - 1
    rows = torch.arange(len(last), device=last.device)

    def pool(x: torch.Tensor):
        x = x.float()  # no copy when the model is float32
        return (x * mask).sum(1) / count, x[rows, last]

    with capture(model, layers, reduce=pool) as cap:
        _forward(model, batch)
    return {i: (*cap.resid[i], *cap.mlp[i]) for i in layers}


@torch.no_grad()
def token_activations(model, batch: dict[str, torch.Tensor], layers: list[int],
                      dtype: torch.dtype | None = None):
    """(position, token_id, {layer: (resid, mlp)}) over the non-padding tokens of one batch,
    activations converted to `dtype` (default: the model's) on the fly.

    Rows are the batch's prompts in order, each prompt's tokens in order; the same row order for
    every layer.
    """
    keep = batch["attention_mask"].bool()
    width = keep.shape[1]
    position = torch.arange(width, device=keep.device).expand_as(keep)[keep]
    token_id = batch["input_ids"][keep]

    def rows(x: torch.Tensor) -> torch.Tensor:
        return x[keep] if dtype is None else x[keep].to(dtype)

    with capture(model, layers, reduce=rows) as cap:
        _forward(model, batch)
    return position, token_id, {i: (cap.resid[i], cap.mlp[i]) for i in layers}


def iter_pooled(model, tokenizer, prompts, dtype: str, batch_size: int = 64, device: str = "cpu"):
    """Yield (prompt ids, {layer: (resid_mean, resid_last, mlp_mean, mlp_last)}) per batch, as
    numpy arrays of `dtype` on the CPU: the capture the pooled dump writes, without the disk."""
    layers, tdtype = _num_layers(model), TORCH_DTYPES[dtype]
    for ids, batch in prompt_batches(tokenizer, prompts, batch_size, device):
        acts = pooled_activations(model, batch, layers)
        yield ids, {i: [_to_numpy(a, tdtype) for a in acts[i]] for i in layers}


def iter_token_level(model, tokenizer, prompts, dtype: str, batch_size: int = 64,
                     device: str = "cpu"):
    """Yield (layer, prompt_id, token, token_id, resid, mlp) numpy arrays per batch and layer,
    one entry per non-padding token; activations in `dtype`."""
    layers, tdtype = _num_layers(model), TORCH_DTYPES[dtype]
    for ids, batch in prompt_batches(tokenizer, prompts, batch_size, device):
        lengths = batch["attention_mask"].sum(1).cpu().numpy()
        prompt_id = np.repeat(ids, lengths)
        position, token_id, acts = token_activations(model, batch, layers, tdtype)
        position = position.cpu().numpy().astype(np.int32)
        token_id = token_id.cpu().numpy().astype(np.int32)
        for i in layers:
            resid, mlp = acts[i]
            yield i, prompt_id, position, token_id, _to_numpy(resid, tdtype), _to_numpy(mlp, tdtype)


def dump_activations(model, tokenizer, prompts, path: str | Path, dtype: str, prov: dict,
                     batch_size: int = 64, device: str = "cpu") -> int:
    """Stream activations of every layer for every prompt to `path`; returns rows written."""
    value_type = DTYPES[dtype][1]
    cfg = model.config
    schema = _with_provenance(activation_schema(cfg.hidden_size, cfg.intermediate_size, dtype), prov)
    n = 0
    with pq.ParquetWriter(str(path), schema, **writer_options(schema)) as writer:
        for ids, acts in iter_pooled(model, tokenizer, prompts, dtype, batch_size, device):
            prompt_col = pa.array(ids)
            for i, cols in acts.items():
                table = pa.table([prompt_col, pa.array(np.full(len(ids), i, np.int16))]
                                 + [_fixed(c, value_type) for c in cols], schema=schema)
                writer.write_table(table)
                n += len(ids)
    return n


class ShardedWriter:
    """Write tables to `directory/part-00000.parquet`, ... with at most `shard_rows` rows each:
    a new shard starts when the current one is full. `options` go to pq.ParquetWriter (default:
    `writer_options(schema)`). Every shard carries `schema` (and so its
    metadata); at least one shard is written, empty if nothing was. Shards left in `directory`
    by an earlier run are removed first."""

    def __init__(self, directory: str | Path, schema: pa.Schema, shard_rows: int, **options):
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
        self.directory, self.schema, self.shard_rows = Path(directory), schema, int(shard_rows)
        self.options = options or writer_options(schema)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("part-*.parquet"):
            stale.unlink()
        self.paths: list[Path] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0

    def _open(self) -> None:
        self._close_shard()
        path = self.directory / SHARD_NAME.format(len(self.paths))
        self._writer = pq.ParquetWriter(str(path), self.schema, **self.options)
        self.paths.append(path)
        self._in_shard = 0

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write_table(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            if self._writer is None or self._in_shard >= self.shard_rows:
                self._open()
            take = min(self.shard_rows - self._in_shard, table.num_rows - start)
            self._writer.write_table(table.slice(start, take))
            self._in_shard += take
            self.rows += take
            start += take

    def close(self) -> None:
        if not self.paths:
            self._open()
        self._close_shard()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def dump_token_activations(model, tokenizer, prompts, directory: str | Path, dtype: str,
                           prov: dict, shard_rows: int, batch_size: int = 64,
                           device: str = "cpu") -> int:
    """Stream token-level activations of every layer to Parquet shards in `directory`
    (one row per prompt, layer and non-padding token); returns rows written."""
    value_type = DTYPES[dtype][1]
    cfg = model.config
    schema = token_activation_schema(cfg.hidden_size, cfg.intermediate_size, dtype)
    schema = _with_provenance(schema, prov)
    with ShardedWriter(directory, schema, shard_rows) as writer:
        for layer, prompt_id, token, token_id, resid, mlp in iter_token_level(
                model, tokenizer, prompts, dtype, batch_size, device):
            table = pa.table([pa.array(prompt_id), pa.array(np.full(len(prompt_id), layer, np.int16)),
                              pa.array(token), pa.array(token_id),
                              _fixed(resid, value_type), _fixed(mlp, value_type)], schema=schema)
            writer.write_table(table)
    return writer.rows
