import torch
from peft import PeftModel

from actunlearn.masked_lora import attach_masked_lora, lora_a, unmasked_columns_zero
from actunlearn.modeling import collate, decoder_layers, qa_example
from actunlearn.testbed import new_model

MASKS = {0: [1, 4, 7], 2: [0, 3]}


def _train_steps(model, tokenizer, steps=5):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
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
