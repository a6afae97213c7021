import torch
from peft import PeftModel

from actunlearn.models.encoding import collate, qa_example
from actunlearn.models.loading import decoder_layers
from actunlearn.models.testbed import new_model
from actunlearn.unlearning.masked_lora import (
    SoftMask,
    attach_masked_lora,
    effective_lora_params,
    lora_a,
    unmasked_columns_zero,
)

MASKS = {0: [1, 4, 7], 2: [0, 3]}


def _train_steps(model, tokenizer, steps=5, lr=0.05, hooks=None):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                            weight_decay=0.0)
    if hooks is not None:
        hooks(opt)
    b = collate([qa_example(tokenizer, "Who directed Inception?", "I do not know")],
                tokenizer.pad_token_id)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        model(**b).loss.backward()
        opt.step()
    model.eval()


def test_unmasked_columns_stay_exactly_zero(tiny_model, tokenizer):
    model = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0)
    before = {i: lora_a(model, i).detach().clone() for i in MASKS}
    _train_steps(model, tokenizer)
    assert unmasked_columns_zero(model, MASKS)
    for i, neurons in MASKS.items():
        a = lora_a(model, i)
        assert not torch.equal(a[:, neurons], before[i][:, neurons]), "masked columns must train"
    # layer 1 has no LoRA at all
    assert not hasattr(decoder_layers(model)[1].mlp.down_proj, "lora_A")


def test_soft_mask_scales_the_other_neurons(tiny_model, tokenizer):
    """mask_scale (the original notebook's 0.05): other columns start and learn scaled."""
    hard = attach_masked_lora(new_model(tiny_model.config, 0), MASKS, rank=2, alpha=4, seed=0)
    soft = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0, mask_scale=0.05)
    a_soft, a_hard = lora_a(soft, 0).detach(), lora_a(hard, 0).detach()
    others = [j for j in range(a_soft.shape[1]) if j not in MASKS[0]]
    torch.testing.assert_close(a_soft[:, MASKS[0]], a_hard[:, MASKS[0]])
    assert a_hard[:, others].abs().sum() == 0 and a_soft[:, others].abs().sum() > 0
    before = lora_a(soft, 0).detach().clone()
    _train_steps(soft, tokenizer)
    assert not torch.equal(lora_a(soft, 0)[:, others], before[:, others])
    assert not unmasked_columns_zero(soft, MASKS)


def test_lora_delta_ignores_unmasked_neurons(tiny_model, tokenizer):
    model = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0)
    _train_steps(model, tokenizer)
    down = decoder_layers(model)[0].mlp.down_proj
    x = torch.randn(3, down.in_features)
    x2 = x.clone()
    unmasked = [j for j in range(down.in_features) if j not in MASKS[0]]
    x2[:, unmasked] = torch.randn(3, len(unmasked))
    with torch.no_grad():
        delta = down(x) - down.base_layer(x)
        delta2 = down(x2) - down.base_layer(x2)
    assert delta.abs().sum() > 0
    torch.testing.assert_close(delta, delta2)


def test_saved_adapter_loads_with_plain_peft(tiny_model, tokenizer, tmp_path):
    config = tiny_model.config
    base_state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    model = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0)
    _train_steps(model, tokenizer)
    model.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([tokenizer("who directed inception ?")["input_ids"]])
    with torch.no_grad():
        expected = model(input_ids=ids).logits
    fresh = new_model(config, seed=123)
    fresh.load_state_dict(base_state)
    loaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids).logits, expected)
        merged = loaded.merge_and_unload()
        torch.testing.assert_close(merged(input_ids=ids).logits, expected, rtol=1e-5, atol=1e-5)


def _column_changes(model, tokenizer, masks, scale, steps=8, hooks=True):
    """Mean |change| of lora_A's masked and unmasked columns (layer 0) after AdamW steps."""
    before = lora_a(model, 0).detach().clone()
    _train_steps(model, tokenizer, steps, lr=0.01,
                 hooks=SoftMask(model, masks, scale).register if hooks else None)
    delta = (lora_a(model, 0).detach() - before).abs()
    others = [j for j in range(delta.shape[1]) if j not in masks[0]]
    return delta[:, masks[0]].mean().item(), delta[:, others].mean().item()


def test_soft_mask_scales_updates_under_adamw(tiny_model, tokenizer):
    """Under AdamW the unmasked columns move mask_scale as far as the masked ones; scaling their
    gradients instead (the old soft mask) is cancelled by Adam's normalisation."""
    soft = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0, mask_scale=0.05)
    on, off = _column_changes(soft, tokenizer, MASKS, 0.05)
    assert on > 0 and 0.03 < off / on < 0.08, (on, off)
    # the old behaviour: without the hooks the unmasked columns train at full speed
    plain = attach_masked_lora(new_model(tiny_model.config, 0), MASKS, rank=2, alpha=4, seed=0,
                               mask_scale=0.05)
    on, off = _column_changes(plain, tokenizer, MASKS, 0.05, hooks=False)
    assert off / on > 0.3, (on, off)


def test_effective_params_exclude_frozen_columns(tiny_model):
    model = attach_masked_lora(tiny_model, MASKS, rank=2, alpha=4, seed=0)
    nominal = sum(p.numel() for p in model.parameters() if p.requires_grad)
    hidden, neurons = tiny_model.config.hidden_size, tiny_model.config.intermediate_size
    assert nominal == 2 * (2 * neurons + hidden * 2)
    # lora_A: rank x selected neurons; lora_B: hidden x rank, per layer
    assert effective_lora_params(model, MASKS, 0.0) == 2 * (3 + 2) + 2 * hidden * 2
    assert effective_lora_params(model, MASKS, 0.05) == nominal
