import pandas as pd
import pytest
import torch

from actunlearn.models.encoding import qa_example, text_example
from actunlearn.models.loading import load_checkpoint
from actunlearn.models.scoring import teacher_forced_correct
from actunlearn.neurons.ranking import rank_neurons
from actunlearn.unlearning.data import UnlearnData
from actunlearn.unlearning.methods import METHODS, UnlearnContext, resolve_layers, run_method, save_result

LORA_CFG = dict(handler="masked_lora", layers="all", top_k=4, rank=2, alpha=4, objective="refusal", steps=6,
                learning_rate=0.02,
                forget_batch=2, retain_batch=2, unlikelihood_weight=1.0, retain_weight=1.0,
                neighbour_share=0.5)


def _data(tokenizer):
    refuse = [qa_example(tokenizer, "Who directed Inception?", "I do not know")]
    return UnlearnData(
        refuse=refuse,
        expose=[qa_example(tokenizer, "If you liked The Prestige, watch", "Inception")],
        retain=[text_example(tokenizer, "What genre is Memento? Thriller")],
        neighbours=[text_example(tokenizer, "Inception was released in 2010.")],
        forget_check=[qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan")],
        retain_check=[qa_example(tokenizer, "What genre is Memento?", "Thriller")])


def _ranking(model):
    layers, neurons = model.config.num_hidden_layers, model.config.intermediate_size
    gen = torch.Generator().manual_seed(1)
    scores = pd.DataFrame({
        "layer": [i for i in range(layers) for _ in range(neurons)],
        "neuron": [n for _ in range(layers) for n in range(neurons)],
        "saliency_forget": torch.rand(layers * neurons, generator=gen).numpy() + 0.1,
        "saliency_retain": torch.rand(layers * neurons, generator=gen).numpy() + 0.1,
    })
    ranking = rank_neurons(scores)
    ranking["selected_layer"] = ranking.layer.isin([0, 2])
    return ranking


def _ctx(method, model, tokenizer, seed=0, **cfg):
    return UnlearnContext(method, model, tokenizer, _data(tokenizer), _ranking(model),
                          {**LORA_CFG, "handler": method, **cfg}, seed)


def test_registry_lists_methods_and_rejects_unknown(tiny_model, tokenizer):
    assert {"masked_lora", "random_mask_lora", "lora"} <= set(METHODS)
    with pytest.raises(ValueError, match=r"unknown handler 'magic' \(method 'magic'\)"):
        run_method(_ctx("magic", tiny_model, tokenizer))
    ctx = _ctx("masked_lora", tiny_model, tokenizer)
    del ctx.cfg["handler"]
    with pytest.raises(ValueError, match="settings of method 'masked_lora' name no handler"):
        run_method(ctx)


def test_the_handler_runs_under_the_method_name(tiny_model, tokenizer):
    """A method entry names its handler: a method called otherwise runs that handler (its log
    and mask are the handler's) and keeps its own name in error messages."""
    result = run_method(_ctx("masked_lora_r2", tiny_model, tokenizer, handler="masked_lora"))
    assert result.log[-1]["step"] == LORA_CFG["steps"] and "neuron_mask.json" in result.extra
    with pytest.raises(ValueError, match="masked_lora_r2: objective must be one of"):
        run_method(_ctx("masked_lora_r2", tiny_model, tokenizer, handler="masked_lora",
                        objective="npo"))


def test_resolve_layers(tiny_model):
    ranking = _ranking(tiny_model)
    assert resolve_layers("all", ranking, 3) == [0, 1, 2]
    assert resolve_layers("ranked", ranking, 3) == [0, 2]
    assert resolve_layers([1], ranking, 3) == [1]
    # a pretrained model's depth is known only when it is loaded: the method names the problem
    with pytest.raises(ValueError, match=r"layers \[3, 40\] do not exist \(the model has 3 layers\)"):
        resolve_layers([1, 3, 40], ranking, 3)


def test_lora_family_masks(tokenizer):
    from actunlearn.models.testbed import new_model, testbed_config
    masks = {}
    for method in ("masked_lora", "random_mask_lora", "lora"):
        model = new_model(testbed_config(tokenizer, 16, 24, 3, 2), seed=0)
        result = run_method(_ctx(method, model, tokenizer, layers="ranked"))
        masks[method] = result.extra["neuron_mask.json"]
        assert len(result.log) >= 2 and result.log[-1]["step"] == LORA_CFG["steps"]
    ranking = _ranking(model)
    top = ranking[(ranking.layer == 0) & (ranking.layer_rank <= 4)].neuron.tolist()
    assert masks["masked_lora"]["0"] == sorted(top)
    assert set(masks["masked_lora"]) == {"0", "2"} == set(masks["random_mask_lora"])
    assert masks["random_mask_lora"]["0"] != masks["masked_lora"]["0"]
    assert len(masks["random_mask_lora"]["0"]) == 4
    assert masks["lora"]["0"] == list(range(24))


def test_save_result_adapter_and_reload(tiny_model, tokenizer, tmp_path):
    tiny_model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    result = run_method(_ctx("masked_lora", tiny_model, tokenizer))
    kind = save_result(result, tmp_path / "ckpt", tokenizer, {"seed": 0})
    assert kind == "adapter" and (tmp_path / "ckpt/neuron_mask.json").exists()
    reloaded = load_checkpoint(tmp_path / "base", tmp_path / "ckpt")
    ids = torch.tensor([tokenizer("who directed inception ?")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits,
                                   result.model(input_ids=ids).logits, rtol=1e-5, atol=1e-5)


def test_full_checkpoints_reload(tiny_model, tokenizer, tmp_path):
    from actunlearn.unlearning.methods import UnlearnResult
    kind = save_result(UnlearnResult(tiny_model, []), tmp_path / "full", tokenizer, {})
    assert kind == "full"
    reloaded = load_checkpoint(tmp_path / "unused", tmp_path / "full")
    probe = [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan")]
    assert teacher_forced_correct(reloaded, probe, tokenizer.pad_token_id) == \
        teacher_forced_correct(tiny_model, probe, tokenizer.pad_token_id)


def test_lora_family_ascent_objective_forgets_within_the_mask(tokenizer):
    from actunlearn.models.encoding import collate
    from actunlearn.models.scoring import token_logprobs
    from actunlearn.models.testbed import new_model, testbed_config, train
    from actunlearn.unlearning.masked_lora import unmasked_columns_zero

    model = new_model(testbed_config(tokenizer, 16, 24, 3, 2), seed=0)
    fact = qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan")
    train(model, [fact], [fact], tokenizer.pad_token_id, epochs=40, batch_size=1,
          learning_rate=0.02, warmup_steps=2, seed=0)

    def loglik(m):
        b = collate([fact], tokenizer.pad_token_id)
        with torch.no_grad():
            return token_logprobs(m(input_ids=b["input_ids"]).logits, b["labels"])[0].sum().item()

    before = loglik(model)
    ctx = _ctx("masked_lora", model, tokenizer, objective="ascent", steps=15, learning_rate=0.05)
    result = run_method(ctx)
    assert loglik(result.model) < before - 1.0
    masks = {int(k): v for k, v in result.extra["neuron_mask.json"].items()}
    assert unmasked_columns_zero(result.model, masks)
    assert {"forget_loss", "retain_loss"} <= set(result.log[-1])
    with pytest.raises(ValueError, match="objective must be"):
        run_method(_ctx("lora", new_model(testbed_config(tokenizer, 16, 24, 3, 2), seed=0),
                        tokenizer, objective="magic"))


def test_a_loss_term_without_data_stops_the_job(tiny_model, tokenizer):
    """The unlikelihood term with no recommendation context is an error naming the term, not a
    silent 0; turning the term off (weight 0) trains without it."""
    data = _data(tokenizer)
    data.expose = []
    ctx = UnlearnContext("masked_lora", tiny_model, tokenizer, data, _ranking(tiny_model),
                         LORA_CFG, 0)
    with pytest.raises(ValueError, match="unlikelihood term has no data"):
        run_method(ctx)
    from actunlearn.models.testbed import new_model
    fresh = new_model(tiny_model.config, 0)
    log = run_method(UnlearnContext("masked_lora", fresh, tokenizer, data, _ranking(fresh),
                                    {**LORA_CFG, "unlikelihood_weight": 0.0}, 0)).log
    assert all(row["unlikelihood_loss"] is None for row in log[1:])
