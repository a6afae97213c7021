"""Analyses over pooled activation dumps: activation overlap of paraphrases, agreement of meaning
and representation, contrastive neurons, and how unlearning moved the activations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from actunlearn.metrics.stats import spearman

REPRESENTATIONS = ("resid_mean", "resid_last", "mlp_mean", "mlp_last")
RETAIN_ROLES = ("neighbour", "retain")


def load_pooled(path: str | Path, column: str, layer: int,
                prompt_ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(prompt ids, float32 matrix) of one representation of one layer, rows in file order
    or in the order of `prompt_ids` when given."""
    table = pq.read_table(path, columns=["prompt_id", "layer", column],
                          filters=[("layer", "=", layer)])
    ids = table.column("prompt_id").to_numpy()
    values = pc.list_flatten(table.column(column)).to_numpy(zero_copy_only=False)
    matrix = values.reshape(len(ids), -1).astype(np.float32)
    if prompt_ids is not None:
        where = {pid: i for i, pid in enumerate(ids)}
        missing = [p for p in prompt_ids if p not in where]
        if missing:
            raise KeyError(f"{path}: layer {layer} lacks prompts {missing[:5]}")
        order = np.array([where[p] for p in prompt_ids])
        ids, matrix = ids[order], matrix[order]
    return ids, matrix


def layers_in(path: str | Path) -> list[int]:
    return sorted(set(pq.read_table(path, columns=["layer"]).column("layer").to_pylist()))


def unit_rows(matrix: np.ndarray, what: str) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{what}: {int((norms == 0).sum())} zero vectors; cosine is undefined")
    return matrix / norms


def activation_overlap(path: str | Path, prompts: pd.DataFrame
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per layer and representation: mean cosine of prompt pairs within a paraphrase family
    (same film and intent) and across families; and, for the forget target's prompts, every
    pair's cosine (the layer x prompt-pair heatmap)."""
    family = prompts.set_index("prompt_id").title + "|" + prompts.set_index("prompt_id").intent
    target_ids = prompts.prompt_id[prompts.role == "forget"].tolist()
    summary, pairs = [], []
    for layer in layers_in(path):
        for rep in REPRESENTATIONS:
            ids, x = load_pooled(path, rep, layer)
            u = unit_rows(x.astype(np.float64), f"{rep} layer {layer}")
            fam = family.loc[ids].to_numpy()
            n = len(ids)
            total = (np.sum(u, axis=0) ** 2).sum() - n  # sum over ordered pairs i != j
            within, n_within = 0.0, 0
            for f in np.unique(fam):
                s = u[fam == f]
                within += ((np.sum(s, axis=0) ** 2).sum() - len(s)) / 2
                n_within += len(s) * (len(s) - 1) // 2
            n_across = n * (n - 1) // 2 - n_within
            across = (total / 2 - within) / n_across
            summary.append({"layer": layer, "representation": rep,
                            "within_family": within / n_within, "across_family": across,
                            "gap": within / n_within - across, "n_within": n_within,
                            "n_across": n_across})
            pos = {pid: i for i, pid in enumerate(ids)}
            t = [pos[p] for p in target_ids]
            sim = u[t] @ u[t].T
            for a in range(len(t)):
                for b in range(a + 1, len(t)):
                    pairs.append({"layer": layer, "representation": rep,
                                  "prompt_a": target_ids[a], "prompt_b": target_ids[b],
                                  "same_family": fam[t[a]] == fam[t[b]],
                                  "cosine": float(sim[a, b])})
    return pd.DataFrame(summary), pd.DataFrame(pairs)


def semantic_vs_activation(path: str | Path, prompt_ids: list[int], embeddings: np.ndarray
                           ) -> pd.DataFrame:
    """Per layer and representation: Spearman correlation, over all prompt pairs, between the
    cosine of sentence embeddings of the prompt texts and the cosine of the activations."""
    upper = np.triu_indices(len(prompt_ids), k=1)
    e = unit_rows(embeddings.astype(np.float64), "embeddings")
    semantic = (e @ e.T)[upper]
    rows = []
    for layer in layers_in(path):
        for rep in REPRESENTATIONS:
            _, x = load_pooled(path, rep, layer, prompt_ids)
            u = unit_rows(x.astype(np.float64), f"{rep} layer {layer}")
            rho, note = spearman(semantic, (u @ u.T)[upper])
            rows.append({"layer": layer, "representation": rep, "spearman": rho, "note": note,
                         "n_pairs": len(semantic)})
    return pd.DataFrame(rows)


def contrastive_difference(path: str | Path, prompts: pd.DataFrame) -> pd.DataFrame:
    """Per MLP neuron: mean activation (mlp_mean) on forget prompts minus retain prompts,
    standardised by the pooled standard deviation. Train templates only."""
    train = prompts[prompts.split == "train"]
    forget = train.prompt_id[train.role == "forget"].tolist()
    retain = train.prompt_id[train.role.isin(RETAIN_ROLES)].tolist()
    if len(forget) < 2 or len(retain) < 2:
        raise ValueError("contrastive difference needs >= 2 forget and >= 2 retain prompts")
    rows = []
    for layer in layers_in(path):
        _, f = load_pooled(path, "mlp_mean", layer, forget)
        _, r = load_pooled(path, "mlp_mean", layer, retain)
        f, r = f.astype(np.float64), r.astype(np.float64)
        pooled = np.sqrt(((len(f) - 1) * f.var(0, ddof=1) + (len(r) - 1) * r.var(0, ddof=1))
                         / (len(f) + len(r) - 2))
        diff = f.mean(0) - r.mean(0)
        defined = pooled > 0
        z = pd.array(np.divide(diff, pooled, out=np.zeros_like(diff), where=defined),
                     dtype="Float64")
        z[~defined] = pd.NA
        rows.append(pd.DataFrame({
            "layer": layer, "neuron": np.arange(f.shape[1]), "forget_mean": f.mean(0),
            "retain_mean": r.mean(0), "pooled_sd": pooled, "contrast_z": z,
            "note": np.where(defined, None, "undefined: constant activation on all prompts"),
        }))
    out = pd.concat(rows, ignore_index=True)
    return out


def activation_shift(base_path: str | Path, post_path: str | Path, prompts: pd.DataFrame
                     ) -> pd.DataFrame:
    """Per layer, representation, role and template split: mean cosine distance and mean relative
    L2 change between the base model's and the unlearned model's activations."""
    ids = prompts.prompt_id.tolist()
    meta = prompts.set_index("prompt_id").loc[ids]
    rows = []
    for layer in layers_in(base_path):
        for rep in REPRESENTATIONS:
            _, pre = load_pooled(base_path, rep, layer, ids)
            _, post = load_pooled(post_path, rep, layer, ids)
            pre, post = pre.astype(np.float64), post.astype(np.float64)
            cos = np.sum(unit_rows(pre, "base") * unit_rows(post, "unlearned"), axis=1)
            rel = np.linalg.norm(post - pre, axis=1) / np.linalg.norm(pre, axis=1)
            frame = pd.DataFrame({"role": meta.role.to_numpy(), "split": meta.split.to_numpy(),
                                  "cosine_distance": 1 - cos, "relative_l2": rel})
            for (role, split), g in frame.groupby(["role", "split"]):
                rows.append({"layer": layer, "representation": rep, "role": role, "split": split,
                             "cosine_distance": g.cosine_distance.mean(),
                             "relative_l2": g.relative_l2.mean(), "n": len(g)})
    return pd.DataFrame(rows)


def shift_tables(base_path: str | Path, post_path: str | Path, prompts: pd.DataFrame
                 ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(activation shift, PCA projection, PCA layer) of an unlearned checkpoint's dump against the
    base model's, on `prompts`. The PCA uses the last layer's last-token residuals of the forget
    and neighbour prompts and 100 retain prompts (seed 0)."""
    shift = activation_shift(base_path, post_path, prompts)
    focus = prompts[prompts.role.isin(["forget", "neighbour"])]
    retain = prompts[prompts.role == "retain"]
    sample = pd.concat([focus, retain.sample(n=min(100, len(retain)), random_state=0)])
    layer = layers_in(base_path)[-1]
    return shift, pca_projection(base_path, post_path, sample, layer), layer


def pca_projection(base_path: str | Path, post_path: str | Path, prompts: pd.DataFrame,
                   layer: int, rep: str = "resid_last") -> pd.DataFrame:
    """2-D PCA fitted on the base model's activations; base and unlearned points projected."""
    ids = prompts.prompt_id.tolist()
    _, pre = load_pooled(base_path, rep, layer, ids)
    _, post = load_pooled(post_path, rep, layer, ids)
    mean = pre.mean(0)
    _, _, vt = np.linalg.svd(pre - mean, full_matrices=False)
    meta = prompts.set_index("prompt_id").loc[ids]
    out = []
    for which, x in (("base", pre), ("unlearned", post)):
        xy = (x - mean) @ vt[:2].T
        out.append(pd.DataFrame({"prompt_id": ids, "role": meta.role.to_numpy(),
                                 "split": meta.split.to_numpy(), "model": which,
                                 "pc1": xy[:, 0], "pc2": xy[:, 1]}))
    return pd.concat(out, ignore_index=True)
