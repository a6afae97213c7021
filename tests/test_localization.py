"""Localization ground truth: facts planted through known neurons are found by the scores that
should find them (and not by a random ranking), and ablating them removes them."""
import numpy as np
import pandas as pd
import pytest
import torch

from actunlearn.models.encoding import text_example
from actunlearn.models.hooks import capture
from actunlearn.models.testbed import new_model, testbed_config, train
from actunlearn.models.tokenizer import build_tokenizer
from actunlearn.neurons import localization as loc

WIDTH = 64


@pytest.fixture(scope="module")
def planted():
    torch.set_num_threads(1)
    facts = loc.fictitious_facts(9, seed=0)
    plant, retain = facts.iloc[:6], facts.iloc[6:]
    tok = build_tokenizer([f"{q} {a}" for q, a in zip(facts.question, facts.answer)] * 2,
                          vocab_size=1000)
    model = new_model(testbed_config(tok, 32, WIDTH, 2, 2), 0)
    kept = loc.fact_examples(tok, retain)
    names = [text_example(tok, a) for a in plant.answer]   # the answers' words, not the facts
    train(model, kept + names, kept, tok.pad_token_id, 40, 8, 1e-2, 5, 0)
    model.eval()
    neurons = loc.choose_planted(2, WIDTH, [0, 1], 8, seed=0)
    after = loc.plant_facts(model, loc.fact_examples(tok, plant), neurons, 300, 0.01, 8, 0,
                            keep_examples=kept)
    return tok, model, after, plant, retain, neurons


def test_only_the_planted_neurons_change_and_they_learn_the_facts(planted):
    tok, model, after, plant, _, neurons = planted
    owned = {(layer, n) for layer, idx in neurons.items() for n in idx}
    before, now = dict(model.named_parameters()), dict(after.named_parameters())
    for name, p in before.items():
        diff = (p != now[name])
        if not diff.any():
            continue
        layer = int(name.split(".layers.")[1].split(".")[0])
        cols = diff.any(0) if "down_proj" in name else diff.any(1)
        assert {(layer, int(n)) for n in torch.nonzero(cols).flatten()} <= owned, name
    examples = loc.fact_examples(tok, plant)
    assert loc.fact_recall(after, tok, examples) >= loc.fact_recall(model, tok, examples) + 0.3


def test_saliency_recovers_the_planted_neurons_and_a_random_ranking_does_not(planted):
    tok, _, after, plant, retain, neurons = planted
    table = loc.localization_table(after, tok, plant, retain, neurons, ["saliency", "fisher"],
                                   contrast=False, seed=0).set_index("ranking")
    k, n = table.k.iloc[0], table.n_neurons.iloc[0]
    assert (k, n) == (16, 2 * WIDTH)
    assert table.auc["saliency"] >= 0.8 and table.precision_at_k["saliency"] >= 3 * k / n
    scores = pd.DataFrame({"layer": np.repeat([0, 1], WIDTH), "neuron": np.tile(np.arange(WIDTH), 2)})
    random_auc = [loc.recovery(loc.random_ranking(scores, s), neurons)["auc"] for s in range(8)]
    assert abs(np.mean(random_auc) - 0.5) < 0.1 and max(random_auc) < 0.8


def test_ablate_zeroes_exactly_the_chosen_columns_and_cleans_up(planted):
    tok, model, _, plant, _, _ = planted
    from actunlearn.models.encoding import collate
    batch = collate(loc.fact_examples(tok, plant), tok.pad_token_id)
    chosen = {1: [3, 7]}
    with torch.no_grad():
        plain = model(input_ids=batch["input_ids"]).logits
        with loc.ablate(model, chosen), capture(model, resid=False, mlp=True) as cap:
            ablated = model(input_ids=batch["input_ids"]).logits
        assert (cap.mlp[1][..., [3, 7]] == 0).all() and (cap.mlp[1][..., 0] != 0).any()
        assert not torch.allclose(plain, ablated)
        assert torch.equal(model(input_ids=batch["input_ids"]).logits, plain)
    with pytest.raises(ValueError):
        with loc.ablate(model, {5: [0]}):
            pass


def test_deleting_the_planted_neurons_removes_the_planted_facts_and_random_ones_do_not(planted):
    tok, model, after, plant, retain, neurons = planted
    cells = [(layer, n) for layer, idx in neurons.items() for n in idx]
    frame = pd.DataFrame({"layer": np.repeat([0, 1], WIDTH), "neuron": np.tile(np.arange(WIDTH), 2)})
    frame["score"] = [1.0 if (layer, n) in cells else 0.0
                      for layer, n in zip(frame.layer, frame.neuron)]
    frame = frame.sort_values(["score", "layer", "neuron"], ascending=[False, True, True])
    frame["rank"] = np.arange(1, len(frame) + 1)
    curve = loc.deletion_curve(after, tok, frame, plant, retain, [0, len(cells)], seed=0)
    at = curve.set_index(["ablated", "m"]).forget_recall
    before = loc.fact_recall(model, tok, loc.fact_examples(tok, plant))
    assert at[("ranked", len(cells))] <= before + 1e-9 < at[("ranked", 0)]
    assert at[("random", len(cells))] > at[("ranked", len(cells))]
    sizes = loc.log_sizes(2 * WIDTH, 5)
    assert sizes[0] == 0 and sizes[1] == 1 and sizes[-1] == 2 * WIDTH and sizes == sorted(set(sizes))


def test_stated_errors():
    with pytest.raises(ValueError):
        loc.log_sizes(0, 5)
    with pytest.raises(ValueError):
        loc.choose_planted(2, 8, [0], 9, 0)
    with pytest.raises(ValueError):
        loc.recovery(pd.DataFrame({"layer": [0, 0], "neuron": [0, 1], "score": [1.0, 0.0]}),
                     {0: [0, 1]})
