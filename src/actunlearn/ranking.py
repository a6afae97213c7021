"""Neuron ranking from importance scores, normalised per layer.

Raw scores grow with depth (and layer 0 often dominates), so each layer's scores are divided by
that layer's maximum before layers are compared. With contrast, the ranked score is the forget
score minus the retain score: neurons that matter for the concept but not for everything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORES = ("saliency", "fisher")


def normalise(values: pd.Series, layer: pd.Series, how: str) -> pd.Series:
    if how == "none":
        return values.astype(float)
    if how != "per_layer":
        raise ValueError(f"ranking.normalise: unknown method {how!r}")
    peak = values.groupby(layer).transform("max")
    dead = sorted(set(layer[peak <= 0]))
    if dead:
        raise ValueError(f"ranking: layers {dead} have no positive score; per-layer normalisation "
                         "is undefined for them")
    return values / peak


def rank_neurons(scores: pd.DataFrame, score: str = "saliency", contrast: bool = True,
                 normalise_how: str = "per_layer") -> pd.DataFrame:
    """Rows (layer, neuron, score, rank, layer_rank): rank 1 is the most concept-specific neuron.

    Ties are broken by (layer, neuron), so the ranking is deterministic.
    """
    if score not in SCORES:
        raise ValueError(f"ranking.score: unknown score {score!r}; choose from {SCORES}")
    forget = normalise(scores[f"{score}_forget"], scores.layer, normalise_how)
    retain = normalise(scores[f"{score}_retain"], scores.layer, normalise_how)
    out = scores[["layer", "neuron"]].copy()
    out["forget_score"], out["retain_score"] = forget.to_numpy(), retain.to_numpy()
    out["score"] = (forget - retain).to_numpy() if contrast else forget.to_numpy()
    if not np.isfinite(out.score).all():
        raise ValueError("ranking: non-finite scores")
    out = out.sort_values(["score", "layer", "neuron"], ascending=[False, True, True])
    out["rank"] = np.arange(1, len(out) + 1)
    out["layer_rank"] = out.groupby("layer").cumcount() + 1
    return out.reset_index(drop=True)


def top_neurons(ranking: pd.DataFrame, layers: list[int], top_k: int) -> dict[int, list[int]]:
    """The top-k neurons of each chosen layer by within-layer rank."""
    missing = sorted(set(layers) - set(ranking.layer))
    if missing:
        raise ValueError(f"ranking has no layers {missing}")
    chosen = ranking[ranking.layer.isin(layers) & (ranking.layer_rank <= top_k)]
    return {int(layer): sorted(g.neuron.astype(int).tolist()) for layer, g in chosen.groupby("layer")}
