import pandas as pd
import pytest
import torch

from actunlearn.models.encoding import collate, qa_example
from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers
from actunlearn.models.scoring import token_logprobs
from actunlearn.neurons.ranking import rank_neurons, score_agreement, score_table, select_layers, top_neurons
from actunlearn.neurons.scores import concept_scores, neuron_scores, ssd_ratio


def _examples(tokenizer):
    return [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan"),
            qa_example(tokenizer, "What genre is Memento?", "Thriller")]


def _loglik(model, example, pad_id):
    b = collate([example], pad_id)
    lp, _ = token_logprobs(model(input_ids=b["input_ids"]).logits, b["labels"])
    return lp.sum()


def test_saliency_and_fisher_match_per_sample_autograd(tiny_model, tokenizer):
    examples = _examples(tokenizer)
    got = concept_scores(tiny_model, examples, tokenizer.pad_token_id, batch_size=2)
    sal, fis = got.saliency, got.fisher
    layers = decoder_layers(tiny_model)
    exp_sal = torch.zeros_like(sal)
    exp_fis = torch.zeros_like(fis)
    exp_resid = torch.zeros(len(layers), dtype=torch.float64)
    exp_embed = 0.0
    n = len(layers)
    for ex in examples:
        with capture(tiny_model, grad=True) as cap:
            ll = _loglik(tiny_model, ex, tokenizer.pad_token_id)
            weights = [layer.mlp.down_proj.weight for layer in layers]
            grads = torch.autograd.grad(ll, [cap.mlp[i] for i in range(n)] + weights
                                        + [cap.resid[i] for i in range(n)] + [cap.embeddings])
        for i in range(n):
            a, g = cap.mlp[i].detach(), grads[i]
            exp_sal[i] += (a * g).sum(1).abs().squeeze(0).double()
            exp_fis[i] += grads[n + i].pow(2).sum(0).double()  # sum over output rows
            exp_resid[i] += grads[2 * n + i].norm().double()
        exp_embed += grads[3 * n].norm().item()
    torch.testing.assert_close(sal, exp_sal / 2, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(fis, exp_fis / 2, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(got.resid_grad, exp_resid / 2, rtol=1e-4, atol=1e-8)
    assert got.embed_grad == pytest.approx(exp_embed / 2, rel=1e-4)
    assert all(p.requires_grad for p in tiny_model.parameters()), "parameters must be restored"


def test_saliency_of_a_dead_neuron_is_zero(tiny_model, tokenizer):
    layer = decoder_layers(tiny_model)[1]
    with torch.no_grad():
        layer.mlp.up_proj.weight[5].zero_()  # neuron 5 of layer 1 is always 0
    got = concept_scores(tiny_model, _examples(tokenizer), tokenizer.pad_token_id)
    sal, fis = got.saliency, got.fisher
    assert sal[1, 5] == 0 and fis[1, 5] == 0
    assert sal[1].sum() > 0


def _scores():
    # layer 0 has 100x larger raw scores; neuron 2 of layer 1 is forget-specific
    return pd.DataFrame({
        "layer": [0, 0, 0, 1, 1, 1],
        "neuron": [0, 1, 2, 0, 1, 2],
        "saliency_forget": [100.0, 50.0, 10.0, 1.0, 0.5, 0.9],
        "saliency_retain": [100.0, 10.0, 10.0, 1.0, 0.1, 0.1],
        "fisher_forget": [1.0] * 6, "fisher_retain": [1.0] * 6,
    })


def test_ranking_normalises_per_layer_and_contrasts():
    ranking = rank_neurons(_scores(), "saliency", contrast=True)
    top = ranking.iloc[0]
    assert (top.layer, top.neuron) == (1, 2)  # 0.9 - 0.1 = 0.8 beats 0.5 - 0.1 in layer 0
    assert ranking.iloc[0].score == pytest.approx(0.8)
    assert list(ranking["rank"]) == list(range(1, 7))
    assert set(ranking[ranking.layer == 0].layer_rank) == {1, 2, 3}


def test_ranking_without_contrast_and_without_normalisation():
    raw = rank_neurons(_scores(), "saliency", contrast=False, normalise_how="none")
    assert (raw.iloc[0].layer, raw.iloc[0].neuron) == (0, 0)


def test_ranking_is_deterministic_on_ties():
    scores = _scores()
    scores["saliency_forget"] = 1.0
    scores["saliency_retain"] = 0.5
    a, b = rank_neurons(scores), rank_neurons(scores.sample(frac=1, random_state=3))
    pd.testing.assert_frame_equal(a, b)
    assert list(zip(a.layer, a.neuron))[:3] == [(0, 0), (0, 1), (0, 2)]


def test_ranking_rejects_dead_layer_and_unknown_score():
    scores = _scores()
    scores.loc[scores.layer == 1, "saliency_forget"] = 0.0
    with pytest.raises(ValueError, match=r"layers \[1\]"):
        rank_neurons(scores)
    with pytest.raises(ValueError, match="unknown or empty"):
        rank_neurons(_scores(), "magic")


def test_top_neurons_per_layer():
    ranking = rank_neurons(_scores())
    assert top_neurons(ranking, [0, 1], 1) == {0: [1], 1: [2]}
    with pytest.raises(ValueError, match="no layers"):
        top_neurons(ranking, [7], 1)


def test_ssd_ratio_states_undefined_values():
    ratio, note = ssd_ratio([2.0, 1.0, 0.0], [1.0, 0.0, 0.0])
    assert ratio[0] == 2.0 and note[0] is None
    assert pd.isna(ratio[1]) and note[1] == "undefined: retain Fisher is 0"
    assert pd.isna(ratio[2]) and note[2] == "undefined: no Fisher information at all"


def test_neuron_scores_table(tiny_model, tokenizer):
    scores, grads = neuron_scores(tiny_model, _examples(tokenizer)[:1], _examples(tokenizer)[1:],
                                  tokenizer.pad_token_id)
    assert len(scores) == 3 * 24 and {"ssd_ratio", "ssd_note"} <= set(scores.columns)
    assert list(grads.layer) == [-1, 0, 1, 2] and grads["where"].iloc[0] == "embeddings"


def test_combined_ranking_rank_average_and_weighted_z():
    scores = _scores()
    scores["fisher_forget"] = [1.0, 2.0, 3.0, 3.0, 2.0, 1.0]
    scores["fisher_retain"] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    single = rank_neurons(scores, ["fisher"], contrast=False)
    both = rank_neurons(scores, ["saliency", "fisher"], combine="rank_average")
    # layer 0: saliency contrast ranks neuron 1 first, fisher ranks neuron 2 first
    top0 = both[both.layer == 0].sort_values("layer_rank")
    assert set(top0.neuron[:2]) == {1, 2}
    assert (single[single.layer_rank == 1].neuron.tolist()) == [2, 0]
    weighted = rank_neurons(scores, ["saliency", "fisher"], combine="weighted_z",
                            weights={"saliency": 10.0, "fisher": 0.0})
    sal_only = rank_neurons(scores, ["saliency"])
    def tops(r):
        return dict(zip(r[r.layer_rank == 1].layer, r[r.layer_rank == 1].neuron))

    assert tops(weighted) == tops(sal_only)


def test_ssd_and_contrast_scores_with_undefined_values():
    scores = _scores()
    scores.loc[0, ["fisher_forget", "fisher_retain"]] = 0.0
    contrast = pd.DataFrame({"layer": scores.layer, "neuron": scores.neuron,
                             "contrast_z": pd.array([1.0, None, 2.0, 0.5, 0.1, 3.0], "Float64")})
    table = score_table(scores, ["ssd", "contrast"], True, "per_layer", contrast)
    assert table.ssd[0] == 0.0 and "ssd undefined" in table.notes[0]
    assert table.contrast[1] == 0.0 and "contrast undefined" in table.notes[1]
    assert table.notes[2] is None
    ranking = rank_neurons(scores, ["contrast"], contrast_table=contrast)
    assert (ranking.iloc[0].layer, ranking.iloc[0].neuron) == (1, 2)
    with pytest.raises(ValueError, match="needs the contrast table"):
        rank_neurons(scores, ["contrast"])


def test_layer_selection_rules():
    scores = _scores()  # saliency forget/retain mass: layer 0: 160/120, layer 1: 2.4/1.2
    layers = select_layers(scores, "top", top=1)
    assert layers.set_index("layer").layer_score.to_dict() == pytest.approx({0: 160 / 120, 1: 2.0})
    assert layers[layers.selected].layer.tolist() == [1]
    assert select_layers(scores, "all").selected.all()
    assert select_layers(scores, "explicit", explicit=[0]).selected.tolist() == [True, False]
    with pytest.raises(ValueError, match="do not exist"):
        select_layers(scores, "explicit", explicit=[5])


def test_score_agreement_reports_undefined_correlation():
    scores = _scores()
    table = score_agreement(scores, k=2).set_index(["layer", "side"])
    # fisher is constant: correlation undefined, with the reason, never NaN
    row = table.loc[(0, "forget")]
    assert row.spearman is None and "second score is constant" in row.note
    scores["fisher_forget"] = scores["saliency_forget"] ** 2
    table = score_agreement(scores, k=2).set_index(["layer", "side"])
    assert table.loc[(0, "forget")].spearman == pytest.approx(1.0)
    assert table.loc[(0, "forget")].jaccard_top_k == 1.0
