from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from actunlearn.neurons.activations import activation_schema
from actunlearn.neurons.probing import (
    activation_overlap,
    activation_shift,
    contrastive_difference,
    load_pooled,
    pca_projection,
    semantic_vs_activation,
)
from actunlearn.provenance import provenance, write_parquet

from instability_oracle import family_instability

HIDDEN, NEURONS = 3, 4


def _prompts():
    rows = []
    for pid, (title, intent, role, split) in enumerate([
            ("A", "director", "forget", "train"), ("A", "director", "forget", "train"),
            ("A", "year", "forget", "held_out"), ("B", "director", "retain", "train"),
            ("B", "director", "retain", "train"), ("C", "year", "neighbour", "train")]):
        rows.append(dict(prompt_id=pid, title=title, intent=intent, role=role, split=split,
                         template_id=pid % 2, question=f"q{pid}", answer="x", gold=["x"]))
    return pd.DataFrame(rows)


def _write(path, vectors: dict[int, np.ndarray], layers=(0, 1)):
    """vectors: prompt_id -> base vector (hidden); every representation derived from it."""
    rows = []
    for layer in layers:
        for pid, v in vectors.items():
            r = np.asarray(v, np.float32) * (layer + 1)
            m = np.concatenate([r, [pid + 1.0]]).astype(np.float32)
            rows.append(dict(prompt_id=pid, layer=layer, resid_mean=r.tolist(), resid_last=r.tolist(),
                             mlp_mean=m.tolist(), mlp_last=m.tolist()))
    schema = activation_schema(HIDDEN, NEURONS, "float32")
    write_parquet(pd.DataFrame(rows), path, provenance({}), schema=schema)


def _vectors(seed=0):
    rng = np.random.default_rng(seed)
    return {pid: rng.normal(size=HIDDEN) for pid in range(6)}


def test_load_pooled_orders_rows(tmp_path):
    vecs = _vectors()
    _write(tmp_path / "a.parquet", vecs)
    ids, x = load_pooled(tmp_path / "a.parquet", "resid_mean", 1, [5, 0])
    assert list(ids) == [5, 0]
    np.testing.assert_allclose(x[0], 2 * vecs[5], rtol=1e-6)
    with pytest.raises(KeyError):
        load_pooled(tmp_path / "a.parquet", "resid_mean", 0, [99])


def test_activation_overlap_equals_brute_force(tmp_path):
    vecs = _vectors()
    _write(tmp_path / "a.parquet", vecs)
    prompts = _prompts()
    summary, pairs = activation_overlap(tmp_path / "a.parquet", prompts)
    fam = (prompts.title + prompts.intent).tolist()
    u = {p: v / np.linalg.norm(v) for p, v in vecs.items()}
    within = [u[a] @ u[b] for a, b in combinations(range(6), 2) if fam[a] == fam[b]]
    across = [u[a] @ u[b] for a, b in combinations(range(6), 2) if fam[a] != fam[b]]
    row = summary[(summary.layer == 0) & (summary.representation == "resid_mean")].iloc[0]
    assert row.within_family == pytest.approx(np.mean(within))
    assert row.across_family == pytest.approx(np.mean(across))
    assert (row.n_within, row.n_across) == (len(within), len(across))
    # forget prompts 0,1,2 -> 3 pairs per layer and representation
    assert len(pairs) == 3 * 2 * 4
    p01 = pairs[(pairs.layer == 0) & (pairs.representation == "resid_mean") & (pairs.prompt_a == 0)
                & (pairs.prompt_b == 1)].iloc[0]
    assert p01.same_family and p01.cosine == pytest.approx(u[0] @ u[1])


def test_semantic_vs_activation_is_one_when_activations_are_the_embeddings(tmp_path):
    vecs = _vectors(1)
    _write(tmp_path / "a.parquet", vecs)
    ids = [0, 1, 2, 3, 4]
    emb = np.stack([vecs[i] for i in ids])
    table = semantic_vs_activation(tmp_path / "a.parquet", ids, emb)
    resid = table[table.representation == "resid_mean"]
    assert np.allclose(resid.spearman.astype(float), 1.0)
    assert (resid.n_pairs == 10).all()


def test_contrastive_difference_and_undefined_neuron(tmp_path):
    vecs = {0: [1, 0, 5], 1: [3, 0, 5], 2: [9, 9, 9], 3: [0, 0, 5], 4: [0, 0, 5], 5: [2, 0, 5]}
    _write(tmp_path / "a.parquet", {k: np.array(v, float) for k, v in vecs.items()}, layers=(0,))
    table = contrastive_difference(tmp_path / "a.parquet", _prompts())
    # forget train prompts: 0, 1; retain train prompts (neighbour, retain): 3, 4, 5
    n0 = table[table.neuron == 0].iloc[0]
    f, r = np.array([1.0, 3.0]), np.array([0.0, 0.0, 2.0])
    pooled = np.sqrt((f.var(ddof=1) + 2 * r.var(ddof=1)) / 3)
    assert n0.contrast_z == pytest.approx((f.mean() - r.mean()) / pooled)
    for neuron in (1, 2):  # constant on these prompts
        row = table[table.neuron == neuron].iloc[0]
        assert pd.isna(row.contrast_z) and row.note.startswith("undefined")


def test_activation_shift_is_zero_for_identical_and_positive_otherwise(tmp_path):
    vecs = _vectors(2)
    _write(tmp_path / "pre.parquet", vecs)
    _write(tmp_path / "same.parquet", vecs)
    moved = dict(vecs)
    moved[0] = vecs[0] + np.array([5.0, 0, 0])
    _write(tmp_path / "post.parquet", moved)
    prompts = _prompts()
    same = activation_shift(tmp_path / "pre.parquet", tmp_path / "same.parquet", prompts)
    assert np.allclose(same.cosine_distance, 0, atol=1e-6) and np.allclose(same.relative_l2, 0)
    shift = activation_shift(tmp_path / "pre.parquet", tmp_path / "post.parquet", prompts)
    forget = shift[(shift.role == "forget") & (shift.split == "train")]
    retain = shift[shift.role == "retain"]
    assert (forget.relative_l2 > 0).all() and np.allclose(retain.relative_l2, 0)
    pca = pca_projection(tmp_path / "pre.parquet", tmp_path / "post.parquet", prompts, 0)
    assert len(pca) == 12 and set(pca.model) == {"base", "unlearned"}


def test_family_instability_identical_paraphrases_are_stable(tiny_model, tokenizer):
    prompts = pd.DataFrame({"prompt_id": [0, 1, 2, 3], "title": ["A", "A", "B", "B"],
                            "intent": ["director"] * 4, "role": ["forget"] * 2 + ["retain"] * 2,
                            "question": ["Who directed Inception?"] * 2
                            + ["Who directed Inception?", "What genre is Memento?"]})
    responses = pd.Series(["nolan", "Nolan", "x", "y"], index=[0, 1, 2, 3])
    table = family_instability(tiny_model, tokenizer, prompts, responses).set_index("title")
    assert table.loc["A", "js_mean"] == pytest.approx(0, abs=1e-9)
    assert table.loc["A", "greedy_agreement"] == 1.0 and table.loc["A", "topk_jaccard"] == 1.0
    assert table.loc["B", "js_mean"] > 0 and table.loc["B", "greedy_agreement"] == 0.0
