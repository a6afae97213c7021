import pytest
import torch

from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers


def _inputs(tokenizer):
    batch = tokenizer(["who directed inception ?", "inception was released in 2010 ."],
                      padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def _all_hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_residual_matches_hidden_states(tiny_model, tokenizer):
    ids, mask = _inputs(tokenizer)
    with torch.no_grad(), capture(tiny_model) as cap:
        out = tiny_model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    n = len(decoder_layers(tiny_model))
    for i in range(n - 1):
        torch.testing.assert_close(cap.resid[i], out.hidden_states[i + 1], rtol=0, atol=0)
    # transformers applies the final norm to the last hidden state
    final = tiny_model.model.norm(cap.resid[n - 1])
    torch.testing.assert_close(final, out.hidden_states[n])


def test_mlp_neurons_are_down_proj_input(tiny_model, tokenizer):
    ids, mask = _inputs(tokenizer)
    mlp_inputs, mlp_outputs = {}, {}
    handles = []
    for i, layer in enumerate(decoder_layers(tiny_model)):
        handles.append(layer.mlp.register_forward_pre_hook(
            lambda m, a, i=i: mlp_inputs.__setitem__(i, a[0].detach())))
        handles.append(layer.mlp.register_forward_hook(
            lambda m, a, o, i=i: mlp_outputs.__setitem__(i, o.detach())))
    with torch.no_grad(), capture(tiny_model) as cap:
        tiny_model(input_ids=ids, attention_mask=mask)
    for h in handles:
        h.remove()
    for i, layer in enumerate(decoder_layers(tiny_model)):
        x = mlp_inputs[i]
        expected = layer.mlp.act_fn(layer.mlp.gate_proj(x)) * layer.mlp.up_proj(x)
        torch.testing.assert_close(cap.mlp[i], expected)
        torch.testing.assert_close(layer.mlp.down_proj(cap.mlp[i]), mlp_outputs[i])


def test_hooks_removed_after_use_and_after_errors(tiny_model, tokenizer):
    ids, mask = _inputs(tokenizer)
    before = _all_hooks(tiny_model)
    with capture(tiny_model, mlp_out=True):
        assert _all_hooks(tiny_model) > before
        tiny_model(input_ids=ids, attention_mask=mask)
    assert _all_hooks(tiny_model) == before
    try:
        with capture(tiny_model, grad=True):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _all_hooks(tiny_model) == before


def test_gradients_match_autograd(tiny_model, tokenizer):
    ids, mask = _inputs(tokenizer)
    for p in tiny_model.parameters():
        p.requires_grad_(False)
    with capture(tiny_model, grad=True) as cap:
        tiny_model(input_ids=ids, attention_mask=mask).logits[..., 3].sum().backward()
    # independent reference: a second pass, gradients via torch.autograd.grad
    with capture(tiny_model, grad=True) as ref:
        loss = tiny_model(input_ids=ids, attention_mask=mask).logits[..., 3].sum()
        expected = torch.autograd.grad(loss, [ref.mlp[1], ref.resid[0]])
    torch.testing.assert_close(cap.mlp[1].grad, expected[0])
    torch.testing.assert_close(cap.resid[0].grad, expected[1])
    assert cap.embeddings.grad is not None


def test_reduce_records_reduced_tensors_on_the_fly(tiny_model, tokenizer):
    ids, mask = _inputs(tokenizer)
    with torch.no_grad(), capture(tiny_model) as full:
        expected = tiny_model(input_ids=ids, attention_mask=mask).logits
    before = _all_hooks(tiny_model)
    with torch.no_grad(), capture(tiny_model, mlp_out=True, reduce=lambda x: x.sum(1)) as red:
        out = tiny_model(input_ids=ids, attention_mask=mask).logits
    assert _all_hooks(tiny_model) == before
    torch.testing.assert_close(out, expected, rtol=0, atol=0)  # the model's tensors are untouched
    for i in range(len(decoder_layers(tiny_model))):
        torch.testing.assert_close(red.resid[i], full.resid[i].sum(1), rtol=0, atol=0)
        torch.testing.assert_close(red.mlp[i], full.mlp[i].sum(1), rtol=0, atol=0)
        assert red.mlp_out[i].shape == (ids.shape[0], tiny_model.config.hidden_size)
    with pytest.raises(ValueError, match="grad=True"), capture(tiny_model, grad=True, reduce=lambda x: x):
        pass
    assert _all_hooks(tiny_model) == before
