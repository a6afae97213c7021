"""Weight-editing methods: dampen, ssd, rmu (full checkpoints, no adapters)."""

import copy

import pytest
import torch
from test_methods import _data, _ranking

from actunlearn.models.encoding import collate
from actunlearn.models.loading import load_checkpoint
from actunlearn.models.scoring import token_logprobs
from actunlearn.unlearning.methods import UnlearnContext, run_method, save_result
from actunlearn.unlearning.methods.rmu import layer_states, masked_mse, steering_vector
from actunlearn.unlearning.methods.ssd import diagonal_fisher, selected_parameters

DAMPEN = dict(layers="ranked", top_k=4, scale=0.0)
SSD = dict(modules=["mlp.down_proj"], alpha=1.0, dampening=1.0)
RMU = dict(params="full", layer=1, update_layers="auto", steering_coef=5.0, forget_positions="all",
           alpha=1.0, steps=20, learning_rate=0.3, forget_batch=2, retain_batch=2, neighbour_share=0.5)
CFG = {"dampen": DAMPEN, "ssd": SSD, "rmu": RMU}


def _ctx(method, model, tokenizer, seed=0, **cfg):
    return UnlearnContext(method, model, tokenizer, _data(tokenizer), _ranking(model),
                          {"handler": method, **CFG[method], **cfg}, seed)


def _logits(model, tokenizer):
    ids = torch.tensor([tokenizer("who directed inception ? christopher nolan")["input_ids"]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def _changed(before, after):
    b, a = dict(before.named_parameters()), dict(after.named_parameters())
    return {n for n in b if not torch.equal(b[n], a[n])}


def test_dampen_zeroes_exactly_the_masked_columns(tiny_model, tokenizer):
    base = copy.deepcopy(tiny_model)
    result = run_method(_ctx("dampen", tiny_model, tokenizer))
    masks = {int(k): v for k, v in result.extra["neuron_mask.json"].items()}
    assert set(masks) == {0, 2} and all(len(v) == 4 for v in masks.values())
    assert _changed(base, result.model) <= {f"model.layers.{i}.mlp.down_proj.weight" for i in masks}
    for i, cols in masks.items():
        w0 = base.model.layers[i].mlp.down_proj.weight
        w1 = result.model.model.layers[i].mlp.down_proj.weight
        assert (w1[:, cols] == 0).all()
        keep = [c for c in range(w0.shape[1]) if c not in cols]
        assert torch.equal(w1[:, keep], w0[:, keep])
    assert [r["step"] for r in result.log] == [0, 1]
    assert result.log[0]["edited_params"] == 0
    assert result.log[1]["edited_params"] == sum(
        int((base.model.layers[i].mlp.down_proj.weight[:, c] != 0).sum()) for i, c in masks.items())
    assert result.log[1]["trainable_params"] == 0
    # the outputs no longer depend on those neurons: scramble their inputs, logits stay the same
    before = _logits(result.model, tokenizer)
    with torch.no_grad():
        for i, cols in masks.items():
            mlp = result.model.model.layers[i].mlp
            mlp.up_proj.weight[cols] = torch.randn_like(mlp.up_proj.weight[cols]) * 10
            mlp.gate_proj.weight[cols] = torch.randn_like(mlp.gate_proj.weight[cols]) * 10
    torch.testing.assert_close(_logits(result.model, tokenizer), before)
    assert not torch.allclose(before, _logits(base, tokenizer))


def _direct_fisher(model, weight_name, examples, pad_id):
    """Independent check: per-example loss.backward(), squared .grad, averaged."""
    param = dict(model.named_parameters())[weight_name]
    total = torch.zeros_like(param, dtype=torch.float64)
    for ex in examples:
        model.zero_grad(set_to_none=True)
        b = collate([ex], pad_id)
        lp, _ = token_logprobs(model(input_ids=b["input_ids"]).logits, b["labels"])
        lp.sum().backward()
        total += param.grad.double() ** 2
    model.zero_grad(set_to_none=True)
    return total / len(examples)


def test_ssd_dampens_by_the_stated_factor(tiny_model, tokenizer):
    with torch.no_grad():   # neuron 5 of layer 0 is dead: its down_proj column gets no gradient
        tiny_model.model.layers[0].mlp.up_proj.weight[5] = 0
    data = _data(tokenizer)
    data.forget_check = data.forget_check + [data.expose[0]]
    data.retain_check = data.retain_check + [data.retain[0]]
    base = copy.deepcopy(tiny_model)
    pad = tokenizer.pad_token_id
    ctx = UnlearnContext("ssd", tiny_model, tokenizer, data, _ranking(tiny_model),
                         {"handler": "ssd", **SSD}, 0)
    result = run_method(ctx)
    allowed = {f"model.layers.{i}.mlp.down_proj.weight" for i in range(3)}
    assert _changed(base, result.model) <= allowed
    total = 0
    for name in sorted(allowed):
        ff = _direct_fisher(base, name, data.forget_check, pad)
        fr = _direct_fisher(base, name, data.retain_check, pad)
        select = ff > SSD["alpha"] * fr
        factor = torch.where(select, (SSD["dampening"] * fr / ff).clamp(max=1), 1.0)
        w0 = dict(base.named_parameters())[name].detach()
        w1 = dict(result.model.named_parameters())[name].detach()
        torch.testing.assert_close(w1, (w0.double() * factor).float())
        assert torch.equal(w1[~select], w0[~select])
        total += int(select.sum())
    assert 0 < total < sum(dict(base.named_parameters())[n].numel() for n in allowed)
    assert result.log[1]["dampened_params"] == total
    # the dead neuron's column: zero forget gradient, left untouched
    w0 = base.model.layers[0].mlp.down_proj.weight
    f0 = diagonal_fisher(base, selected_parameters(base, ["mlp.down_proj"]), data.forget_check,
                         pad)["layers.0.mlp.down_proj.weight"]
    assert (f0[:, 5] == 0).all() and (f0[:, 4] > 0).any()
    assert torch.equal(result.model.model.layers[0].mlp.down_proj.weight[:, 5], w0[:, 5])


def test_ssd_unknown_module_is_named(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="unknown module 'mlp.nope'"):
        run_method(_ctx("ssd", tiny_model, tokenizer, modules=["mlp.down_proj", "mlp.nope"]))


def test_rmu_steers_the_layer_and_trains_only_down_proj(tiny_model, tokenizer):
    base = copy.deepcopy(tiny_model)
    data = _data(tokenizer)
    forget = data.forget_check + data.expose
    target = steering_vector(tiny_model.config.hidden_size, RMU["steering_coef"], 0)
    assert torch.isclose(target.norm(), torch.tensor(RMU["steering_coef"]))

    def forget_mse(model):
        with torch.no_grad():
            h, mask = layer_states(model, forget, tokenizer.pad_token_id, 1, "cpu", grad=False)
            return masked_mse(h, target, mask).item()

    result = run_method(_ctx("rmu", tiny_model, tokenizer))
    assert forget_mse(result.model) < 0.7 * forget_mse(base)
    assert _changed(base, result.model) == {f"model.layers.{i}.mlp.down_proj.weight"
                                            for i in (0, 1)}
    log = result.log
    assert [r["step"] for r in log] == [0, 20]
    assert log[0]["trainable_params"] == 2 * 16 * 24
    assert 0 < log[-1]["forget_loss"] < forget_mse(base)  # the logged batch term fell too
    assert {"loss", "forget_loss", "retain_loss", "forget_recall", "retain_recall",
            "seconds"} <= set(log[-1])


def test_rmu_at_the_adapter_budget_trains_a_lora_on_the_update_layers_only(tiny_model, tokenizer):
    base = copy.deepcopy(tiny_model)
    result = run_method(_ctx("rmu", tiny_model, tokenizer, params="lora", rank=2, lora_alpha=4,
                             learning_rate=0.05))
    trained = {n for n, p in result.model.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n and "down_proj" in n for n in trained)
    assert {n.split(".layers.")[1].split(".")[0] for n in trained} == {"0", "1"}
    cfg = tiny_model.config
    assert result.log[0]["trainable_params"] == 2 * 2 * (cfg.intermediate_size + cfg.hidden_size)
    merged = result.model.merge_and_unload()
    assert _changed(base, merged) == {f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)}


def test_rmu_answer_positions_are_those_that_predict_a_label(tiny_model, tokenizer):
    data = _data(tokenizer)
    examples = data.forget_check[:2]
    _, every = layer_states(tiny_model, examples, tokenizer.pad_token_id, 1, "cpu", grad=False)
    _, answer = layer_states(tiny_model, examples, tokenizer.pad_token_id, 1, "cpu", grad=False,
                             positions="answer")
    for row, (ids, labels) in enumerate(examples):
        expected = [int(i + 1 < len(labels) and labels[i + 1] != -100) for i in range(len(ids))]
        assert answer[row, :len(ids)].tolist() == expected
        assert every[row, :len(ids)].tolist() == [1] * len(ids)
    assert 0 < answer.sum() < every.sum()
    with pytest.raises(ValueError, match="forget_positions"):
        layer_states(tiny_model, examples, tokenizer.pad_token_id, 1, "cpu", grad=False,
                     positions="prompt")
    result = run_method(_ctx("rmu", tiny_model, tokenizer, forget_positions="answer", steps=3))
    assert result.log[-1]["step"] == 3


def test_ssd_can_dampen_the_token_embeddings(tiny_model, tokenizer):
    params = selected_parameters(tiny_model, ["embed_tokens", "mlp.down_proj"])
    assert params["embed_tokens.weight"] is tiny_model.get_input_embeddings().weight
    assert len(params) == 1 + tiny_model.config.num_hidden_layers
    base = copy.deepcopy(tiny_model)
    result = run_method(_ctx("ssd", tiny_model, tokenizer, modules=["embed_tokens"]))
    changed = _changed(base, result.model)
    assert "model.embed_tokens.weight" in changed
    assert changed <= {"model.embed_tokens.weight", "lm_head.weight"}  # tied output head


def test_rmu_layer_choice(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="layer 7 does not exist"):
        run_method(_ctx("rmu", tiny_model, tokenizer, layer=7))
    with pytest.raises(ValueError, match="update_layers"):
        run_method(_ctx("rmu", tiny_model, tokenizer, update_layers=[2]))
    ranking = _ranking(tiny_model)
    top = int(ranking[ranking.selected_layer].sort_values("rank").layer.iloc[0])
    result = run_method(_ctx("rmu", tiny_model, tokenizer, layer="ranked", steps=1))
    assert result.log[0]["trainable_params"] == len({max(top - 1, 0), top}) * 16 * 24


def test_rmu_nan_loss_names_method_and_step(tiny_model, tokenizer):
    with pytest.raises(FloatingPointError, match=r"rmu: forget loss is nan at step 1"):
        run_method(_ctx("rmu", tiny_model, tokenizer, steering_coef=float("nan")))


@pytest.mark.parametrize("method", ["dampen", "ssd", "rmu"])
def test_full_checkpoint_roundtrip(method, tiny_model, tokenizer, tmp_path):
    result = run_method(_ctx(method, tiny_model, tokenizer, **({"steps": 3} if method == "rmu"
                                                               else {})))
    assert not hasattr(result.model, "peft_config")
    kind = save_result(result, tmp_path / "ckpt", tokenizer, {"seed": 0})
    assert kind == "full" and (tmp_path / "ckpt/model.safetensors").exists()
    reloaded = load_checkpoint(tmp_path / "unused", tmp_path / "ckpt")
    torch.testing.assert_close(_logits(reloaded, tokenizer), _logits(result.model, tokenizer),
                               rtol=0, atol=0)
