"""Is it really gone? Fake quantization, the attack items, the probes and the logit lens."""
import numpy as np
import pandas as pd
import pytest
import torch

from actunlearn.data.catalog import build_catalog
from actunlearn.data.corpus import build_corpus, build_prompts, recommendations
from actunlearn.evaluation.answers import answer_prompts
from actunlearn.evaluation.attacks import (ATTACK_PROMPTS, CONTEXT, LEADING_TURN, PREFIX,
                                           ROLE_PLAY, attack_intervals, audit_questions,
                                           exposure_items, fake_quantize, prompt_attack_items,
                                           quantize_weight, run_attacks)
from actunlearn.models.encoding import left_padded, prompt_ids, qa_example
from actunlearn.models.testbed import new_model, testbed_config, train
from actunlearn.neurons.knowledge_probes import (apply_probes, fit_probes, last_token_states,
                                                 lens_logits, lens_ranks, readout_intervals)

FACTS = [("Who directed Inception?", "Christopher Nolan"),
         ("What genre is Memento?", "Thriller"),
         ("Inception was released in 2010. When was Inception released?", "2010"),
         ("Who stars in Memento?", "Guy Pearce")]


@pytest.fixture
def knowing(tokenizer):
    """A tiny model trained until it answers FACTS."""
    examples = [qa_example(tokenizer, q, a, True) for q, a in FACTS]
    model = new_model(testbed_config(tokenizer, 32, 64, 2, 2), 1)
    probes = [qa_example(tokenizer, q, a) for q, a in FACTS]
    train(model, examples, probes, tokenizer.pad_token_id, epochs=150, batch_size=4,
          learning_rate=0.01, warmup_steps=2, seed=1)
    return model.eval()


# --- weight attacks ---------------------------------------------------------------------------

@pytest.mark.parametrize("bits,group", [(8, None), (4, None), (4, 8), (3, 4)])
def test_quantization_error_is_at_most_half_a_step(bits, group):
    w = torch.randn(12, 32, generator=torch.Generator().manual_seed(0)) * 3
    q = quantize_weight(w, bits, group)
    groups = w.reshape(12, -1, group or 32)
    step = (groups.abs().amax(-1, keepdim=True) / (2 ** (bits - 1) - 1)).expand_as(groups)
    err = (q - w).abs().reshape_as(groups)
    assert (err <= step / 2 + 1e-6).all()
    assert err.max() > 0  # it does round
    # at most 2^bits levels per row or group
    levels = [len(torch.unique(g)) for g in q.reshape(12, -1, group or 32).flatten(0, 1)]
    assert max(levels) <= 2 ** bits


def test_quantization_keeps_zero_rows_and_checks_groups():
    w = torch.zeros(3, 8)
    assert torch.equal(quantize_weight(w, 4), w)
    with pytest.raises(ValueError, match="group_size"):
        quantize_weight(torch.ones(2, 10), 4, 4)
    with pytest.raises(ValueError, match="bits"):
        quantize_weight(torch.ones(2, 8), 1)


def test_fake_quantize_touches_only_the_decoder_linears(tiny_model):
    q = fake_quantize(tiny_model, 4)
    before, after = dict(tiny_model.named_parameters()), dict(q.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(".layers." in n and n.endswith("proj.weight") for n in changed)
    assert all(n in changed for n in before if ".layers." in n and n.endswith("proj.weight"))


def test_an_8bit_model_answers_like_the_model(knowing, tokenizer):
    frame = pd.DataFrame({"question": [q for q, _ in FACTS], "gold": [[a] for _, a in FACTS]})
    plain = answer_prompts(knowing, tokenizer, frame, "I do not know", 8, 24)
    assert plain.correct.all()  # the model knows its facts
    eight = answer_prompts(fake_quantize(knowing, 8), tokenizer, frame, "I do not know", 8, 24)
    assert list(eight.response) == list(plain.response)
    crushed = answer_prompts(fake_quantize(knowing, 2), tokenizer, frame, "I do not know", 8, 24)
    assert not crushed.correct.all() or list(crushed.response) != list(plain.response)


# --- prompt encoding --------------------------------------------------------------------------

def test_history_and_prefix_are_encoded_as_turns(tokenizer):
    plain = prompt_ids(tokenizer, "Who directed Inception?")
    prefixed = prompt_ids(tokenizer, "Who directed Inception?", prefix=PREFIX)
    assert prefixed[:len(plain)] == plain
    assert tokenizer.decode(prefixed[len(plain):]).strip() == PREFIX
    turned = prompt_ids(tokenizer, "Who directed Inception?", history=LEADING_TURN)
    text = tokenizer.decode(turned)
    assert text.index(LEADING_TURN[0][1]) < text.index("Who directed Inception?")
    assert text.count("<|assistant|>") == 2 and text.endswith("<|assistant|>")
    ids, mask, width = left_padded(tokenizer, ["a", "Who directed Inception?"],
                                   histories=[(), LEADING_TURN], prefixes=[PREFIX, None])
    assert ids[1, width - len(turned):].tolist() == turned and mask.sum(1).tolist()[1] == len(turned)


# --- attack items -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(omdb):
    catalog = build_catalog(omdb, 60, ["Inception"], ["director", "star"], 4, 10, n_unknown=4,
                            n_holdout=4, skill_films=6)
    recs = recommendations(catalog, 3)
    corpus = build_corpus(catalog, recs, 3, "I do not know", 2, 0)
    prompts = build_prompts(catalog, recs, 3, "I do not know")
    return catalog, corpus, prompts


def test_attack_items_are_held_out_and_never_give_the_answer(study):
    catalog, corpus, prompts = study
    questions = audit_questions(prompts, 3, 3, 1, 0)
    items = prompt_attack_items(questions, catalog, list(ATTACK_PROMPTS), 2, 0)
    assert set(items.attack) == {"none", *ATTACK_PROMPTS}
    assert (items[items.attack == "none"].question.tolist() == questions.question.tolist())
    trained = set(corpus.question.dropna()) | set(corpus.text)
    attacked = items[items.attack != "none"]
    plain = attacked[attacked.history.isna() & attacked.prefix.isna()]
    assert set(plain.attack) == set(ATTACK_PROMPTS) - {"prefix_injection", "assistant_turn"}
    assert not set(plain.question) & trained   # the others add a turn or an opening to it
    for phrase in (PREFIX, ROLE_PLAY.split("{")[0].strip(), LEADING_TURN[0][0],
                   CONTEXT.split("{")[0].strip()):
        assert not corpus.text.str.contains(phrase, regex=False).any()
    context = items[items.attack.str.startswith("context")]
    assert len(context)
    for r in context.itertuples():
        facts = r.question.split(" Now answer: ")[0]
        assert not any(str(g) in facts for g in r.gold), r.question
    reverse = items[items.attack == "reverse"]
    assert len(reverse) and (reverse.answer == reverse.title).all()
    assert set(reverse.title) <= set(questions.title)
    with pytest.raises(ValueError, match="unknown attacks"):
        prompt_attack_items(questions, catalog, ["jailbreak"], 2, 0)


def test_exposure_items_hold_a_target_and_none_with_zero_prompts(study):
    catalog, _, prompts = study
    items = exposure_items(prompts, catalog, list(ATTACK_PROMPTS), 3, 2, 0)
    assert len(items) and "reverse" not in set(items.attack)
    assert (items.target == "Inception").all()
    assert (items.groupby("attack").size() == 3).all()
    same = items[items.attack == "context_same_film"]
    assert same.question.str.contains("Inception premiered").all()
    assert exposure_items(prompts, catalog, list(ATTACK_PROMPTS), 0, 2, 0).empty


def test_run_attacks_reports_every_attack_and_the_quantized_copies(knowing, tokenizer):
    items = pd.DataFrame({"attack": ["none", "prefix_injection"], "role": "forget",
                          "title": "Inception", "intent": "director", "template_id": 0,
                          "question": ["Who directed Inception?"] * 2, "system": None,
                          "history": None, "prefix": [None, PREFIX], "answer": "Christopher Nolan",
                          "gold": [["Christopher Nolan"]] * 2})
    answers, exposure = run_attacks(knowing, tokenizer, items, items.iloc[:0].assign(target=[]),
                                    [{"name": "int8", "bits": 8}], [], "I do not know", 8, 24,
                                    "cpu", ["Inception", "Memento"])
    assert answers.attack.tolist() == ["none", "prefix_injection", "int8"]
    assert answers.kind.tolist() == ["none", "prompt", "weights"]
    assert answers.correct.iloc[[0, 2]].all() and exposure.empty
    with pytest.raises(ValueError, match="unique"):
        run_attacks(knowing, tokenizer, items, items.iloc[:0], [{"name": "none", "bits": 8}], [],
                    "I do not know", 8, 6, "cpu", [])


def test_attack_intervals_stay_in_range():
    answers = pd.DataFrame({"checkpoint": ["npo_seed0", "npo_seed1"] * 4,
                            "attack": "int4", "role": "forget",
                            "title": ["A", "A", "B", "B"] * 2,
                            "intent": ["director"] * 4 + ["year"] * 4,
                            "correct": [True, False, True, True, False, False, True, False],
                            "refused": False})
    out = attack_intervals(answers, pd.DataFrame())
    recall = out[out.metric == "recall"].iloc[0]
    assert recall.estimate == pytest.approx(0.5) and 0 <= recall.low <= recall.high <= 1
    assert recall.n_seeds == 2 and recall.n_films == 2


# --- probes and the logit lens ----------------------------------------------------------------

def test_logit_lens_at_the_last_layer_is_the_models_own_ranking(tiny_model, tokenizer):
    questions = ["Who directed Inception?", "What genre is Memento?"]
    states = last_token_states(tiny_model, tokenizer, questions)
    assert states.shape[:2] == (2, 3)
    lens = lens_logits(tiny_model, states)[:, -1]
    with torch.no_grad():
        for i, q in enumerate(questions):
            own = tiny_model(input_ids=torch.tensor([prompt_ids(tokenizer, q)])).logits[0, -1]
            assert torch.allclose(lens[i], own, atol=1e-4)
            assert torch.equal(lens[i].argsort(descending=True)[:5], own.argsort(descending=True)[:5])
    ranks = lens_ranks(tiny_model, tokenizer, states, ["Christopher Nolan", "Thriller"])
    assert ranks.shape == (2, 3) and ranks.min() >= 1


def _planted(shuffle: bool):
    rng = np.random.default_rng(0)
    n, d = 240, 16
    labels = np.array(["Nolan", "Scott", "Bigelow"])[rng.integers(3, size=n)]
    states = rng.normal(size=(n, 2, d)).astype(np.float32)
    direction = rng.normal(size=(3, d))
    for k, name in enumerate(["Nolan", "Scott", "Bigelow"]):
        states[labels == name, 1] += 3 * direction[k]   # the answer lives in layer 1 only
    if shuffle:
        labels = rng.permutation(labels)
    frame = pd.DataFrame({"role": "forget", "title": [f"f{i % 40}" for i in range(n)],
                          "intent": "director", "template_id": 0, "answer": labels})
    train = np.arange(n) < 160
    probes = fit_probes(states[train], labels[train].tolist(), ["director"] * 160)
    return apply_probes(probes, states[~train], frame[~train].reset_index(drop=True), "own")


def test_a_probe_decodes_a_planted_feature_and_not_a_shuffled_one():
    real = _planted(shuffle=False)
    by_layer = real.groupby("layer").correct.mean()
    assert by_layer[1] > 0.9 and by_layer[0] < 0.6
    shuffled = _planted(shuffle=True).groupby("layer").correct.mean()
    assert shuffled.max() < 0.6


def test_an_answer_the_probe_has_no_class_for_is_undefined_not_a_miss():
    states = np.random.default_rng(1).normal(size=(6, 1, 4)).astype(np.float32)
    probes = fit_probes(states[:4], ["a", "b", "a", "b"], ["year"] * 4)
    frame = pd.DataFrame({"role": "forget", "title": ["x", "y"], "intent": "year",
                          "template_id": 0, "answer": ["a", "zzz"]})
    out = apply_probes(probes, states[4:], frame, "own")
    assert out.correct.notna().tolist() == [True, False]
    assert out.note[1] == "undefined: answer not among the probe's classes"
    summary = readout_intervals(out.assign(checkpoint="base"), pd.DataFrame())
    assert "1 of 2 rows undefined" in summary.note[0]
    none = readout_intervals(out.iloc[[1]].assign(checkpoint="base"), pd.DataFrame())
    assert none.estimate.isna().all() and none.note[0].startswith("undefined")


def test_the_audit_splits_its_checkpoints_into_runs_that_cover_them_once():
    from actunlearn.evaluation.audit import split_checkpoints
    names = ["base", "retain_ref"] + [f"m{i}_seed0" for i in range(7)]
    parts = split_checkpoints(names, 3)
    assert parts[0][:2] == ["base", "retain_ref"] and len(parts) == 3
    assert sum(parts, []) == names and [len(p) for p in parts] == [5, 2, 2]
    assert split_checkpoints(["base", "a_seed0"], 4) == [["base", "a_seed0"]]
    assert split_checkpoints(["base"], 2) == [["base"]]
