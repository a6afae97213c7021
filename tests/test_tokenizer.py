from transformers import AutoTokenizer

from actunlearn.models.encoding import answer_ids, prompt_ids
from actunlearn.models.tokenizer import load_tokenizer


def test_round_trip_beside_qwen2_config(tokenizer, tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)  # writes a Qwen2 config.json next to the tokenizer
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    text = "Who directed Inception? Christopher Nolan"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"]) == "who directed inception ? christopher nolan"
    assert prompt_ids(loaded, "Who directed Inception?") == prompt_ids(tokenizer, "Who directed Inception?")
    assert (loaded.pad_token, loaded.eos_token) == (tokenizer.pad_token, tokenizer.eos_token)


def test_auto_tokenizer_pitfall_is_real(tokenizer, tiny_model, tmp_path):
    """AutoTokenizer picks the Qwen2 class for this folder and encodes differently; this is
    why load_tokenizer exists. If transformers fixes it, this test tells us."""
    tiny_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    text = "Who directed Inception?"
    assert auto(text)["input_ids"] != tokenizer(text)["input_ids"]


def test_chat_template_and_answer(tokenizer):
    ids = prompt_ids(tokenizer, "Who directed Inception?")
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens == ["<|im_start|>", "user", "who", "directed", "inception", "?", "<|im_end|>",
                      "<|im_start|>", "assistant"]
    assert answer_ids(tokenizer, "Christopher Nolan")[-1] == tokenizer.eos_token_id


def test_model_card_system_prompt_goes_before_every_question(tokenizer, tiny_model, tmp_path):
    """A model folder's card (actunlearn_model.json) gives the system prompt every chat prompt
    gets; an explicit system turn (the system_prompt shift set) replaces it; no card, no turn."""
    import json

    from actunlearn.models.cards import MODEL_CARD
    from actunlearn.models.loading import load_model
    tiny_model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    plain = load_tokenizer(tmp_path / "m")
    assert plain.actunlearn_system_prompt is None
    assert prompt_ids(plain, "Who directed Inception?") == prompt_ids(tokenizer, "Who directed Inception?")
    (tmp_path / "m" / MODEL_CARD).write_text(json.dumps({"system_prompt": "I do not know",
                                                         "dtype": "float32"}))
    carded = load_tokenizer(tmp_path / "m")
    q = "Who directed Inception?"
    assert prompt_ids(carded, q) == prompt_ids(plain, q, "I do not know") != prompt_ids(plain, q)
    assert prompt_ids(carded, q, "Inception") == prompt_ids(plain, q, "Inception")
    assert load_model(tmp_path / "m").dtype.is_floating_point
