"""Activation dumps: pooled file and token-level shards against what the hooks capture."""

import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import torch

from actunlearn.models.encoding import batches, collate, prompt_ids
from actunlearn.models.hooks import capture
from actunlearn.neurons.activations import SHARD_NAME, dump_activations, dump_token_activations
from actunlearn.provenance import read_provenance

QUESTIONS = [
    "who directed inception ?",
    "what genre is memento ?",
    "if you liked the prestige , watch what ?",
    "inception ?",
    "was inception released in 2010 ?",
    "memento",
]
BATCH = 2  # several batches, each with padding
PROV = {"config_hash": "test", "params": {"activations": "test"}}
LAYERS = 3  # tiny_model


@pytest.fixture
def prompts():
    return pd.DataFrame({"prompt_id": [10, 11, 12, 13, 14, 15], "question": QUESTIONS})


def _reference(model, tokenizer, prompts):
    """{prompt_id: (token ids, {layer: (resid [T, H], mlp [T, F])})} from a plain forward pass
    under the hooks, on the same right-padded batches as the dumps."""
    out = {}
    records = list(zip(prompts.prompt_id, prompts.question))
    for chunk in batches(records, BATCH):
        ids = [prompt_ids(tokenizer, q) for _, q in chunk]
        b = collate([(x, []) for x in ids], tokenizer.pad_token_id)
        assert not b["attention_mask"].all()  # the batch is padded
        with torch.no_grad(), capture(model) as cap:
            model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
        for row, (pid, _) in enumerate(chunk):
            n = len(ids[row])
            out[pid] = (ids[row], {i: (cap.resid[i][row, :n].numpy(), cap.mlp[i][row, :n].numpy())
                                   for i in range(LAYERS)})
    return out


def _read_tokens(directory) -> pd.DataFrame:
    return pq.read_table(directory).to_pandas().sort_values(["prompt_id", "layer", "token"])


def test_pooled_dump_is_mean_and_last_of_captured(tiny_model, tokenizer, prompts, tmp_path):
    path = tmp_path / "pooled.parquet"
    n = dump_activations(tiny_model, tokenizer, prompts, path, "float32", PROV, batch_size=BATCH)
    assert n == len(prompts) * LAYERS
    df = pq.read_table(path).to_pandas()
    assert len(df) == n
    ref = _reference(tiny_model, tokenizer, prompts)
    for row in df.itertuples():
        resid, mlp = ref[row.prompt_id][1][row.layer]
        np.testing.assert_array_equal(row.resid_last, resid[-1])
        np.testing.assert_array_equal(row.mlp_last, mlp[-1])
        np.testing.assert_allclose(row.resid_mean, resid.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(row.mlp_mean, mlp.mean(0), rtol=1e-5, atol=1e-6)
    assert read_provenance(path) == PROV


def test_token_rows_equal_captured_and_skip_padding(tiny_model, tokenizer, prompts, tmp_path):
    out = tmp_path / "tokens"
    n = dump_token_activations(tiny_model, tokenizer, prompts, out, "float32", PROV,
                               shard_rows=10_000, batch_size=BATCH)
    ref = _reference(tiny_model, tokenizer, prompts)
    lengths = {pid: len(ids) for pid, (ids, _) in ref.items()}
    assert n == sum(lengths.values()) * LAYERS
    df = _read_tokens(out)
    assert len(df) == n
    assert not (df.token_id == tokenizer.pad_token_id).any()
    for (pid, layer), g in df.groupby(["prompt_id", "layer"]):
        ids, acts = ref[pid]
        assert g.token.tolist() == list(range(lengths[pid]))  # every prompt token once, no padding
        assert g.token_id.tolist() == ids
        np.testing.assert_array_equal(np.stack(g.resid.to_numpy()), acts[layer][0])
        np.testing.assert_array_equal(np.stack(g.mlp.to_numpy()), acts[layer][1])
    # padding does not leak into the kept positions: one unpadded prompt at a time agrees
    ids = prompt_ids(tokenizer, QUESTIONS[2])
    with torch.no_grad(), capture(tiny_model) as cap:
        tiny_model(input_ids=torch.tensor([ids]))
    g = df[(df.prompt_id == 12) & (df.layer == 1)]
    np.testing.assert_allclose(np.stack(g.mlp.to_numpy()), cap.mlp[1][0].numpy(), rtol=1e-5, atol=1e-6)


def test_float16_is_float32_rounded(tiny_model, tokenizer, prompts, tmp_path):
    for dtype in ("float16", "float32"):
        dump_activations(tiny_model, tokenizer, prompts, tmp_path / f"{dtype}.parquet", dtype, PROV,
                         batch_size=BATCH)
        dump_token_activations(tiny_model, tokenizer, prompts, tmp_path / dtype, dtype, PROV,
                               shard_rows=10_000, batch_size=BATCH)
    half, full = (pq.read_table(tmp_path / f"{d}.parquet").to_pandas() for d in ("float16", "float32"))
    assert pq.read_schema(tmp_path / "float16.parquet").field("mlp_mean").type.value_type == "halffloat"
    for col in ("resid_mean", "resid_last", "mlp_mean", "mlp_last"):
        np.testing.assert_array_equal(np.stack(half[col].to_numpy()),
                                      np.stack(full[col].to_numpy()).astype(np.float16))
    half, full = _read_tokens(tmp_path / "float16"), _read_tokens(tmp_path / "float32")
    for col in ("resid", "mlp"):
        np.testing.assert_array_equal(np.stack(half[col].to_numpy()),
                                      np.stack(full[col].to_numpy()).astype(np.float16))


def test_shards_roll_over_and_carry_provenance(tiny_model, tokenizer, prompts, tmp_path):
    out = tmp_path / "tokens"
    (out).mkdir()
    (out / SHARD_NAME.format(99)).write_bytes(b"stale")  # left by an earlier run: removed
    n = dump_token_activations(tiny_model, tokenizer, prompts, out, "float16", PROV, shard_rows=7,
                               batch_size=BATCH)
    shards = sorted(out.iterdir())
    expected = -(-n // 7)
    assert [p.name for p in shards] == [SHARD_NAME.format(k) for k in range(expected)]
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in shards]
    assert sizes == [7] * (expected - 1) + [n - 7 * (expected - 1)]
    schemas = [pq.read_schema(p) for p in shards]
    assert all(s.equals(schemas[0], check_metadata=True) for s in schemas)
    assert all(read_provenance(p) == PROV for p in shards)
    # same rows as one big shard
    dump_token_activations(tiny_model, tokenizer, prompts, tmp_path / "one", "float16", PROV,
                           shard_rows=10_000, batch_size=BATCH)
    assert len(list((tmp_path / "one").iterdir())) == 1
    pd.testing.assert_frame_equal(_read_tokens(out).reset_index(drop=True),
                                  _read_tokens(tmp_path / "one").reset_index(drop=True))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_readable_by_duckdb_and_dataset(tiny_model, tokenizer, prompts, tmp_path, dtype):
    pooled, tokens = tmp_path / "base.parquet", tmp_path / "base_tokens"
    n_pooled = dump_activations(tiny_model, tokenizer, prompts, pooled, dtype, PROV, batch_size=BATCH)
    n = dump_token_activations(tiny_model, tokenizer, prompts, tokens, dtype, PROV, shard_rows=16,
                               batch_size=BATCH)
    # float32 vectors are byte-stream-split, float16 ones plain (DuckDB reads only the former split)
    column = pq.ParquetFile(tokens / SHARD_NAME.format(0)).metadata.row_group(0).column(5)
    assert column.path_in_schema == "mlp.list.element"
    assert ("BYTE_STREAM_SPLIT" in column.encodings) == (dtype == "float32")
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{tokens}/*.parquet')").fetchone()[0] == n
    assert con.execute(f"SELECT count(*) FROM read_parquet('{pooled}')").fetchone()[0] == n_pooled
    mlp_last = np.stack(pq.read_table(pooled, columns=["mlp_last"]).to_pandas().mlp_last.to_numpy())
    got = con.execute(f"SELECT sum(mlp_last[3]::DOUBLE) FROM read_parquet('{pooled}')").fetchone()[0]
    assert got == pytest.approx(float(mlp_last[:, 2].astype(np.float64).sum()), rel=1e-6)
    per_prompt = con.execute(
        f"SELECT prompt_id, max(token) + 1 FROM read_parquet('{tokens}/*.parquet') "
        "WHERE layer = 0 GROUP BY prompt_id ORDER BY prompt_id").fetchall()
    assert per_prompt == [(pid, len(prompt_ids(tokenizer, q)))
                          for pid, q in zip(prompts.prompt_id, prompts.question)]
    meta = con.execute(f"SELECT count(DISTINCT file_name) FROM parquet_kv_metadata('{tokens}/*.parquet') "
                       "WHERE decode(key) = 'actunlearn'").fetchone()[0]
    assert meta == len(list(tokens.iterdir()))
    # pyarrow.dataset: filtered, projected scans without materialising the activations
    dataset = ds.dataset(tokens, format="parquet")
    assert dataset.count_rows() == n
    assert dataset.count_rows(filter=ds.field("layer") == 2) == n // LAYERS
    table = dataset.to_table(columns=["prompt_id", "token"], filter=ds.field("prompt_id") == 12)
    assert table.column_names == ["prompt_id", "token"]
    assert table.num_rows == len(prompt_ids(tokenizer, QUESTIONS[2])) * LAYERS
    batches_read = list(dataset.to_batches(columns=["mlp"], batch_size=5))
    assert sum(b.num_rows for b in batches_read) == n and max(b.num_rows for b in batches_read) <= 5
    assert ds.dataset(pooled, format="parquet").count_rows(filter=ds.field("layer") == 0) == len(prompts)


def test_empty_prompts_write_one_empty_shard(tiny_model, tokenizer, prompts, tmp_path):
    out = tmp_path / "tokens"
    assert dump_token_activations(tiny_model, tokenizer, prompts.iloc[:0], out, "float16", PROV,
                                  shard_rows=7) == 0
    assert [p.name for p in out.iterdir()] == [SHARD_NAME.format(0)]
    query = f"SELECT count(*) FROM read_parquet('{out}/*.parquet')"
    assert duckdb.connect().execute(query).fetchone()[0] == 0
    assert read_provenance(out / SHARD_NAME.format(0)) == PROV
