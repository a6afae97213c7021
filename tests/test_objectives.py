import math

import pytest
import torch
from test_methods import _data, _ranking

from actunlearn.models.loading import load_checkpoint
from actunlearn.models.scoring import teacher_forced_correct
from actunlearn.models.testbed import new_model, testbed_config
from actunlearn.unlearning.loop import ce_loss
from actunlearn.unlearning.methods import METHODS, UnlearnContext, objectives, run_method, save_result

OBJECTIVES = ["grad_ascent", "grad_diff", "npo", "simnpo"]
CFG = dict(layers="all", params="lora", rank=2, alpha=4, steps=10, learning_rate=0.02,
           forget_batch=2, retain_batch=2, retain_weight=1.0, neighbour_share=0.5,
           beta=0.1, gamma=0.0)
LOG_COLUMNS = {"step", "loss", "forget_loss", "retain_loss", "forget_recall", "retain_recall",
               "seconds", "trainable_params", "effective_params", "steps", "forget_examples",
               "retain_examples"}


def _taught(tokenizer, steps=60):
    """A tiny model trained on the forget pool (the fact and the recommendation context) and on
    the retain lines."""
    model = new_model(testbed_config(tokenizer, 16, 24, 3, 2), seed=0)
    data = _data(tokenizer)
    examples = data.forget_check + data.expose + data.retain_check + data.retain + data.neighbours
    opt = torch.optim.AdamW(model.parameters(), lr=0.02)
    model.train()
    for _ in range(steps):
        loss = ce_loss(model, examples, tokenizer.pad_token_id, "cpu")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _forget_logprob(model, tokenizer):
    """Summed log p of the forget pool's answers (every objective trains on the whole pool)."""
    data = _data(tokenizer)
    with torch.no_grad():
        logp, _ = objectives.answer_logprobs(model, data.forget_check + data.expose,
                                             tokenizer.pad_token_id, "cpu")
    return logp.sum().item()


def _ctx(method, model, tokenizer, seed=0, **cfg):
    cfg = {"handler": method, **CFG, **({"beta": 2.5} if method == "simnpo" else {}), **cfg}
    return UnlearnContext(method, model, tokenizer, _data(tokenizer), _ranking(model), cfg, seed)


def test_objectives_registered():
    assert set(OBJECTIVES) <= set(METHODS)


@pytest.mark.parametrize("method", OBJECTIVES)
def test_forget_answer_likelihood_falls(method, tokenizer):
    model = _taught(tokenizer)
    assert teacher_forced_correct(model, _data(tokenizer).forget_check, tokenizer.pad_token_id) == [True]
    before = _forget_logprob(model, tokenizer)
    retain_weight = 0.0 if method == "grad_ascent" else 1.0
    result = run_method(_ctx(method, model, tokenizer, retain_weight=retain_weight))
    after = _forget_logprob(result.model, tokenizer)
    assert after < before - 1.0, (method, before, after)
    log = result.log
    assert set(log[0]) == LOG_COLUMNS and log[0]["step"] == 0 and math.isnan(log[0]["loss"])
    assert [row["step"] for row in log] == [0, 10]
    assert log[0]["forget_recall"] == 1.0
    assert all(set(row) == LOG_COLUMNS for row in log)
    # a term the method does not have is logged as missing, never as a silent 0
    assert log[-1]["retain_loss"] is None if method == "grad_ascent" else log[-1]["retain_loss"] > 0
    assert log[-1]["forget_examples"] == CFG["forget_batch"]


def test_full_params_change_only_chosen_down_proj(tokenizer, tmp_path):
    model = _taught(tokenizer, steps=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = run_method(_ctx("grad_diff", model, tokenizer, params="full", layers="ranked",
                             steps=3, learning_rate=0.005))
    assert result.model is model
    after = result.model.state_dict()
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"model.layers.0.mlp.down_proj.weight", "model.layers.2.mlp.down_proj.weight"}
    chosen = sum(model.model.layers[i].mlp.down_proj.weight.numel() for i in (0, 2))
    assert result.log[0]["trainable_params"] == chosen
    kind = save_result(result, tmp_path / "full", tokenizer, {"seed": 0})
    assert kind == "full" and not (tmp_path / "full/adapter_config.json").exists()
    reloaded = load_checkpoint(tmp_path / "unused", tmp_path / "full")
    for k, v in reloaded.state_dict().items():
        torch.testing.assert_close(v, after[k])


def test_lora_params_save_an_adapter(tiny_model, tokenizer, tmp_path):
    result = run_method(_ctx("npo", tiny_model, tokenizer, steps=2, layers=[1]))
    assert save_result(result, tmp_path / "a", tokenizer, {}) == "adapter"


@pytest.mark.parametrize("params", ["lora", "full"])
def test_npo_first_step_loss_is_2_log2_over_beta(params, tokenizer):
    beta = 0.1
    result = run_method(_ctx("npo", _taught(tokenizer, steps=5), tokenizer, params=params,
                             steps=1, retain_weight=0.0, beta=beta))
    row = result.log[-1]
    assert row["step"] == 1
    assert row["forget_loss"] == pytest.approx(2 / beta * math.log(2), rel=1e-5)
    assert row["loss"] == pytest.approx(row["forget_loss"])


def test_simnpo_first_step_loss_by_hand(tokenizer):
    model = _taught(tokenizer, steps=5)
    data = _data(tokenizer)
    logp, n = objectives.answer_logprobs(model, data.forget_check, tokenizer.pad_token_id, "cpu")
    beta, gamma = 2.5, 0.5
    z = -(beta / n.item()) * logp.item() - gamma
    expected = -(2 / beta) * math.log(1 / (1 + math.exp(-z)))
    ctx = _ctx("simnpo", model, tokenizer, steps=1, retain_weight=0.0, gamma=gamma)
    ctx.data.expose = []  # a forget pool of the one fact: every sampled item is it
    result = run_method(ctx)
    assert result.log[-1]["forget_loss"] == pytest.approx(expected, rel=1e-4)


def test_nan_loss_names_method_and_step(tiny_model, tokenizer, monkeypatch):
    real, calls = objectives.answer_logprobs, []

    def nan_on_third(*args, **kwargs):
        calls.append(1)
        logp, n = real(*args, **kwargs)
        return (logp * float("nan"), n) if len(calls) == 3 else (logp, n)

    monkeypatch.setattr(objectives, "answer_logprobs", nan_on_third)
    with pytest.raises(FloatingPointError, match=r"simnpo: forget loss is nan at step 3"):
        run_method(_ctx("simnpo", tiny_model, tokenizer, steps=5))


def test_different_methods_differ(tokenizer):
    losses = {m: run_method(_ctx(m, _taught(tokenizer, steps=5), tokenizer, steps=3)).log[-1]["loss"]
              for m in ("grad_diff", "npo")}
    assert losses["grad_diff"] != pytest.approx(losses["npo"])


def test_unknown_params_rejected(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="params must be 'lora' or 'full'"):
        run_method(_ctx("grad_ascent", tiny_model, tokenizer, params="adapter"))


def test_every_forget_objective_is_registered_in_one_family(tokenizer):
    """The refusal objective is registered beside the others and trains through the same loop:
    on the baselines' plain LoRA it logs its own terms, and the refusal CE falls."""
    assert set(objectives.OBJECTIVES) == {"refusal", "ascent", "npo", "simnpo"}
    model = _taught(tokenizer)
    data = _data(tokenizer)
    before = ce_loss(model, data.refuse, tokenizer.pad_token_id, "cpu").item()
    ctx = _ctx("refusal_on_lora", model, tokenizer, steps=10, unlikelihood_weight=1.0)
    result = objectives.train_objective(ctx, "refusal")
    assert {"refuse_loss", "unlikelihood_loss", "retain_loss"} <= set(result.log[-1])
    assert "forget_loss" not in result.log[-1]
    with torch.no_grad():
        after = ce_loss(result.model, data.refuse, tokenizer.pad_token_id, "cpu").item()
    assert after < before - 1.0, (before, after)
    with pytest.raises(ValueError, match="refusal_on_lora: unknown forget objective 'magic'"):
        objectives.train_objective(ctx, "magic")
