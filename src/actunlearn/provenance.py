"""Provenance stamped into every artifact: what produced it, from which settings, where."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from actunlearn import __version__

METADATA_KEY = b"actunlearn"
_PACKAGES = ("torch", "transformers", "peft", "tokenizers", "pyarrow", "duckdb", "snakemake")


def config_hash(params: dict) -> str:
    """Stable hash of the settings an artifact depends on (sorted-key JSON, sha256)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "actunlearn": __version__}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def provenance(params: dict, seed: int | None = None, device: str = "cpu") -> dict:
    """Everything needed to tell two artifacts apart: settings, their hash, seed, versions, device."""
    return {
        "config_hash": config_hash(params),
        "params": params,
        "seed": seed,
        "device": device,
        "platform": platform.platform(),
        "versions": versions(),
    }


def write_parquet(df: pd.DataFrame, path: str | Path, prov: dict,
                  schema: pa.Schema | None = None) -> None:
    """Write `df` as zstd Parquet with the provenance JSON in the file's key-value metadata."""
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(prov, sort_keys=True, default=str).encode()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")


def read_provenance(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise ValueError(f"{path} carries no actunlearn provenance metadata")
    return json.loads(meta[METADATA_KEY])


def write_json(obj: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
