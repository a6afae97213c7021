import pandas as pd
import pytest
import torch

from actunlearn.hooks import capture
from actunlearn.modeling import collate, decoder_layers, qa_example, token_logprobs
from actunlearn.ranking import rank_neurons, top_neurons
from actunlearn.scores import concept_scores


def _examples(tokenizer):
    return [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan"),
            qa_example(tokenizer, "What genre is Memento?", "Thriller")]


def _loglik(model, example, pad_id):
    b = collate([example], pad_id)
    lp, _ = token_logprobs(model(input_ids=b["input_ids"]).logits, b["labels"])
    return lp.sum()


def test_saliency_and_fisher_match_per_sample_autograd(tiny_model, tokenizer):
    examples = _examples(tokenizer)
    sal, fis = concept_scores(tiny_model, examples, tokenizer.pad_token_id, batch_size=2)
    layers = decoder_layers(tiny_model)
    exp_sal = torch.zeros_like(sal)
    exp_fis = torch.zeros_like(fis)
    for ex in examples:
        with capture(tiny_model, resid=False, grad=True) as cap:
            ll = _loglik(tiny_model, ex, tokenizer.pad_token_id)
            weights = [layer.mlp.down_proj.weight for layer in layers]
            grads = torch.autograd.grad(ll, [cap.mlp[i] for i in range(len(layers))] + weights)
        for i in range(len(layers)):
            a, g = cap.mlp[i].detach(), grads[i]
            exp_sal[i] += (a * g).sum(1).abs().squeeze(0).double()
            exp_fis[i] += grads[len(layers) + i].pow(2).sum(0).double()  # sum over output rows
    torch.testing.assert_close(sal, exp_sal / 2, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(fis, exp_fis / 2, rtol=1e-4, atol=1e-8)
    assert all(p.requires_grad for p in tiny_model.parameters()), "parameters must be restored"


def test_saliency_of_a_dead_neuron_is_zero(tiny_model, tokenizer):
    layer = decoder_layers(tiny_model)[1]
    with torch.no_grad():
        layer.mlp.up_proj.weight[5].zero_()  # neuron 5 of layer 1 is always 0
    sal, fis = concept_scores(tiny_model, _examples(tokenizer), tokenizer.pad_token_id)
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
    with pytest.raises(ValueError, match="unknown score"):
        rank_neurons(_scores(), "magic")


def test_top_neurons_per_layer():
    ranking = rank_neurons(_scores())
    assert top_neurons(ranking, [0, 1], 1) == {0: [1], 1: [2]}
    with pytest.raises(ValueError, match="no layers"):
        top_neurons(ranking, [7], 1)
