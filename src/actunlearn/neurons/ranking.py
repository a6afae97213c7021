"""Neuron ranking from importance scores, normalised per layer, plus layer selection.

Raw scores grow with depth (and layer 0 often dominates), so each layer's scores are divided by
that layer's maximum before layers are compared. With contrast, saliency and Fisher scores are the
forget score minus the retain score: neurons that matter for the concept but not for everything
else. Several scores combine by average percentile rank or by a weighted sum of z-scores, both
computed per layer (or over all neurons with normalise: none).

Scores:
- saliency, fisher: (normalised) forget minus retain, or forget alone without contrast;
- ssd: fisher_forget / (fisher_forget + fisher_retain), a bounded form of SSD's ratio;
- contrast: the standardised forget-minus-retain activation difference (contrast_z).
Neurons where ssd or contrast is undefined (no Fisher information at all, or a constant
activation) get 0 for that score and are counted in the `notes` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from actunlearn.metrics.stats import jaccard, spearman

SCORES = ("saliency", "fisher", "ssd", "contrast")
COMBINE = ("rank_average", "weighted_z")


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


def score_table(scores: pd.DataFrame, names: list[str], contrast: bool, normalise_how: str,
                contrast_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """layer, neuron, one column per requested score, and notes on undefined values."""
    unknown = [n for n in names if n not in SCORES]
    if unknown or not names:
        raise ValueError(f"ranking.scores: unknown or empty {unknown or names}; choose from {SCORES}")
    out = scores[["layer", "neuron"]].copy()
    notes = pd.Series("", index=out.index)
    for name in names:
        if name in ("saliency", "fisher"):
            f = normalise(scores[f"{name}_forget"], scores.layer, normalise_how)
            r = normalise(scores[f"{name}_retain"], scores.layer, normalise_how)
            out[name] = (f - r).to_numpy() if contrast else f.to_numpy()
        elif name == "ssd":
            total = scores.fisher_forget + scores.fisher_retain
            out[name] = np.where(total > 0, scores.fisher_forget / total.where(total > 0, 1), 0.0)
            notes[total <= 0] += "ssd undefined (no Fisher information); "
        else:
            if contrast_table is None:
                raise ValueError("ranking score 'contrast' needs the contrast table")
            z = scores[["layer", "neuron"]].merge(contrast_table, on=["layer", "neuron"], how="left")
            if len(z) != len(scores):
                raise ValueError("contrast table does not match the neuron scores")
            missing = z.contrast_z.isna().to_numpy()
            out[name] = np.where(missing, 0.0, z.contrast_z.fillna(0).astype(float).to_numpy())
            notes[missing] += "contrast undefined (constant activation); "
    out["notes"] = pd.Series([n.strip() or None for n in notes], index=out.index, dtype=object)
    return out


def _per_group(values: pd.Series, layer: pd.Series, how: str, fn):
    return values.groupby(layer).transform(fn) if how == "per_layer" else fn(values)


def combine_scores(table: pd.DataFrame, names: list[str], how: str, normalise_how: str,
                   weights: dict[str, float] | None = None) -> pd.Series:
    """One score per neuron. A single score is used as it is."""
    if how not in COMBINE:
        raise ValueError(f"ranking.combine: unknown method {how!r}; choose from {COMBINE}")
    if len(names) == 1:
        return table[names[0]].astype(float)
    if how == "rank_average":
        ranks = [_per_group(table[n], table.layer, normalise_how, lambda v: v.rank(pct=True))
                 for n in names]
        return sum(ranks) / len(ranks)
    weights = weights or {}

    def z(v):
        sd = v.std(ddof=0)
        if sd == 0:
            raise ValueError("ranking: a score is constant within a layer; its z-score is undefined")
        return (v - v.mean()) / sd

    return sum(weights.get(n, 1.0) * _per_group(table[n], table.layer, normalise_how, z)
               for n in names)


def rank_neurons(scores: pd.DataFrame, names: list[str] | str = "saliency", contrast: bool = True,
                 normalise_how: str = "per_layer", combine: str = "rank_average",
                 weights: dict[str, float] | None = None,
                 contrast_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows (layer, neuron, <scores>, score, rank, layer_rank): rank 1 is the most
    concept-specific neuron. Ties are broken by (layer, neuron), so the ranking is deterministic."""
    names = [names] if isinstance(names, str) else list(names)
    out = score_table(scores, names, contrast, normalise_how, contrast_table)
    base = next((n for n in names if n in ("saliency", "fisher")), None)
    if base is not None:
        out["forget_score"] = normalise(scores[f"{base}_forget"], scores.layer, normalise_how).to_numpy()
        out["retain_score"] = normalise(scores[f"{base}_retain"], scores.layer, normalise_how).to_numpy()
    out["score"] = combine_scores(out, names, combine, normalise_how, weights).to_numpy()
    if not np.isfinite(out.score).all():
        raise ValueError("ranking: non-finite scores")
    out = out.sort_values(["score", "layer", "neuron"], ascending=[False, True, True])
    out["rank"] = np.arange(1, len(out) + 1)
    out["layer_rank"] = out.groupby("layer").cumcount() + 1
    return out.reset_index(drop=True)


def select_layers(scores: pd.DataFrame, select: str = "all", top: int = 1,
                  explicit: list[int] | None = None, by: str = "saliency") -> pd.DataFrame:
    """Per layer: forget and retain importance mass of `by`, their ratio (layer_score), its rank,
    and whether the layer is selected (all, the `top` layers by layer_score, or `explicit`)."""
    mass = scores.groupby("layer")[[f"{by}_forget", f"{by}_retain"]].sum()
    mass.columns = ["forget_mass", "retain_mass"]
    if (mass.retain_mass <= 0).any():
        bad = mass.index[mass.retain_mass <= 0].tolist()
        raise ValueError(f"ranking.layers: layers {bad} have zero retain {by}; ratio undefined")
    out = mass.reset_index()
    out["layer_score"] = out.forget_mass / out.retain_mass
    out = out.sort_values(["layer_score", "layer"], ascending=[False, True])
    out["layer_rank"] = np.arange(1, len(out) + 1)
    if select == "all":
        out["selected"] = True
    elif select == "top":
        out["selected"] = out.layer_rank <= top
    elif select == "explicit":
        missing = sorted(set(explicit or []) - set(out.layer))
        if missing or not explicit:
            raise ValueError(f"ranking.layers.explicit: layers {missing or explicit} do not exist")
        out["selected"] = out.layer.isin(explicit)
    else:
        raise ValueError(f"ranking.layers.select: unknown rule {select!r}")
    return out.sort_values("layer").reset_index(drop=True)


def ranking_from_config(scores: pd.DataFrame, cfg: dict,
                        contrast_table: pd.DataFrame | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranking with a `selected_layer` column, layer table) as the `ranking` config asks."""
    ranking = rank_neurons(scores, cfg["scores"], cfg["contrast"], cfg["normalise"], cfg["combine"],
                           cfg["weights"], contrast_table)
    rule = cfg["layers"]
    layers = select_layers(scores, rule["select"], rule["top"], rule["explicit"], rule["by"])
    ranking["selected_layer"] = ranking.layer.isin(set(layers.layer[layers.selected]))
    return ranking, layers


def top_neurons(ranking: pd.DataFrame, layers: list[int], top_k: int) -> dict[int, list[int]]:
    """The top-k neurons of each chosen layer by within-layer rank."""
    missing = sorted(set(layers) - set(ranking.layer))
    if missing:
        raise ValueError(f"ranking has no layers {missing}")
    chosen = ranking[ranking.layer.isin(layers) & (ranking.layer_rank <= top_k)]
    return {int(layer): sorted(g.neuron.astype(int).tolist()) for layer, g in chosen.groupby("layer")}


def score_agreement(scores: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per layer and side (forget, retain): Spearman correlation of saliency and Fisher, and the
    Jaccard overlap of their top-k neurons. Undefined correlations carry a note, never NaN."""
    rows = []
    for layer, g in scores.groupby("layer"):
        for side in ("forget", "retain"):
            s, f = g[f"saliency_{side}"], g[f"fisher_{side}"]
            rho, note = spearman(s, f)
            top_s = g.neuron[s.rank(method="first", ascending=False) <= k]
            top_f = g.neuron[f.rank(method="first", ascending=False) <= k]
            rows.append({"layer": int(layer), "side": side, "spearman": rho, "note": note,
                         "jaccard_top_k": jaccard(top_s, top_f), "k": k})
    return pd.DataFrame(rows)
