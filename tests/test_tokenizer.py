from transformers import AutoTokenizer

from actunlearn.models.encoding import answer_ids, prompt_ids
from actunlearn.models.tokenizer import build_tokenizer, load_tokenizer


def test_round_trip_beside_qwen2_config(tokenizer, tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)  # writes a Qwen2 config.json next to the tokenizer
    tokenizer.save_pretrained(tmp_path)
    loaded = load_tokenizer(tmp_path)
    text = "Who directed Inception? Christopher Nolan"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"]).strip() == text  # cased, spaces kept
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
    assert tokens[0] == "<|user|>" and tokens[-1] == "<|assistant|>"
    question = tokenizer.convert_ids_to_tokens(tokenizer("Who directed Inception?",
                                                         add_special_tokens=False)["input_ids"])
    assert tokens[1:-1] == question  # the question has the pieces it has in running text
    framed = tokenizer.convert_ids_to_tokens(prompt_ids(tokenizer, "Who directed Inception?",
                                                        "Be brief."))
    assert framed[0] == "<|system|>" and framed[-len(tokens):] == tokens
    answer = answer_ids(tokenizer, "Christopher Nolan")
    assert answer[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(answer, skip_special_tokens=True).strip() == "Christopher Nolan"


def test_subword_pieces_cover_unseen_words_typos_and_casing():
    """Byte-level BPE: nothing is unknown; a typo or a casing change is other known pieces,
    and the corpus's frequent words are single pieces."""
    texts = ["Inception was directed by Christopher Nolan."] * 20 + ["Who directed Memento?"] * 20
    tok = build_tokenizer(texts, vocab_size=400)
    assert tok.unk_token_id is None
    for text in ("Incepton", "INCEPTION", "inception", "Zwölf Ü"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids).strip() == text
    assert tok.convert_ids_to_tokens(tok(" Nolan", add_special_tokens=False)["input_ids"]) == ["ĠNolan"]
    typo = tok.convert_ids_to_tokens(tok("Incepton", add_special_tokens=False)["input_ids"])
    assert len(typo) > 1 and typo != ["ĠInception"]


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
