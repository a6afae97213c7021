import numpy as np
import pandas as pd
import pytest
import torch

from actunlearn.data.corpus import evaluation_prompts
from actunlearn.evaluation.answers import answer_families, perplexity_samples, summarise
from actunlearn.metrics.matching import is_correct
from actunlearn.metrics.text import normalise_text
from actunlearn.models.encoding import IGNORE, answer_ids, collate, length_chunks, prompt_ids
from actunlearn.models.scoring import continuation_logprobs, sequence_logprob

from instability_oracle import family_instability


def test_answer_matching_is_normalised():
    assert normalise_text(" The Dark-Knight! ") == "thedarkknight"
    assert is_correct("christopher nolan", ["Christopher Nolan"])
    assert is_correct("spider - man", ["Spider-Man"])
    assert is_correct("the prestige", ["Inception", "The Prestige"])
    assert not is_correct("i do not know", ["Christopher Nolan"])
    with pytest.raises(ValueError):
        is_correct("", [""])  # an empty gold answer would match everything: an error


def test_summary_has_no_rows_for_empty_sets():
    recall = pd.DataFrame({"role": ["forget", "forget", "retain"], "split": ["train"] * 3,
                           "correct": [True, False, True], "refused": [False, True, False]})
    exposure = pd.DataFrame(columns=["target_logprob", "target_rank"])
    ppl = pd.DataFrame({"forget": [False, False], "nll": [2.0, 4.0], "tokens": [2, 4]})
    s = summarise(recall, exposure, ppl).set_index("metric")
    assert s.loc["forget_recall_train", "value"] == 0.5
    assert s.loc["forget_refusal_train", "value"] == 0.5
    assert s.loc["perplexity_retain", "value"] == pytest.approx(2.718281828, rel=1e-6)
    assert "forget_recall_held_out" not in s.index and "exposure_rank" not in s.index
    assert "perplexity_forget" not in s.index


def _prompt_table():
    rows = []
    for title, role in [("F", "forget"), ("N", "neighbour")] + [(f"R{i}", "retain") for i in range(6)] \
            + [(f"U{i}", "unknown") for i in range(3)]:
        for t in range(2):
            rows.append({"prompt_id": len(rows), "title": title, "role": role, "intent": "director",
                         "template_id": t, "split": "train" if t == 0 else "held_out"})
    return pd.DataFrame(rows)


def test_evaluation_prompts_keep_targets_and_sample_the_rest():
    prompts = _prompt_table()
    asked = evaluation_prompts(prompts, 3, 1, seed=0)
    assert {"F", "N"} <= set(asked.title)
    assert asked[asked.role == "retain"].title.nunique() == 3
    assert asked[asked.role == "unknown"].title.nunique() == 1
    assert (asked.groupby("title").size() == 2).all()  # whole families, never single prompts
    assert asked.equals(evaluation_prompts(prompts, 3, 1, seed=0))
    assert len(evaluation_prompts(prompts, "all", "all", seed=0)) == len(prompts)
    with pytest.raises(ValueError, match="evaluate.retain_films=7.*only 6 retain"):
        evaluation_prompts(prompts, 7, 0, seed=0)


def test_answer_families_match_plain_forward_and_instability(tiny_model, tokenizer):
    questions = ["Who directed Inception?", "What genre is Memento?", "Who directed Memento?",
                 "Inception?", "What genre is Inception?"]
    prompts = pd.DataFrame({"prompt_id": range(5), "title": ["A", "A", "B", "B", "B"],
                            "intent": ["director"] * 5, "role": ["forget"] * 2 + ["retain"] * 3,
                            "template_id": [0, 1, 0, 1, 2], "split": ["train"] * 5,
                            "question": questions, "gold": [["nolan"]] * 5})
    recall, inst = answer_families(tiny_model, tokenizer, prompts, "i do not know",
                                   batch_size=4, max_new_tokens=3, top_k=2)
    assert recall.prompt_id.tolist() == list(range(5)) and set(inst.title) == {"A", "B"}
    # the same families from a plain forward pass with generation's position ids
    plain = family_instability(tiny_model, tokenizer, prompts,
                               recall.set_index("prompt_id").response, top_k=2)
    merged = inst.merge(plain, on="title", suffixes=("", "_plain"))
    assert np.allclose(merged.js_mean, merged.js_mean_plain, atol=1e-6)
    assert (merged.greedy_agreement == merged.greedy_agreement_plain).all()
    # one batch for both families (more left padding) gives the same answers and families
    together, inst2 = answer_families(tiny_model, tokenizer, prompts, "x", 8, 3, 2)
    assert together.response.tolist() == recall.response.tolist()
    assert np.allclose(inst2.js_mean, inst.js_mean, atol=1e-6)


def test_shared_prefix_scores_equal_full_sequence_scores(tiny_model, tokenizer):
    question = "Who directed Inception?"
    answers = ["Christopher Nolan", "Inception", "I do not know", "Memento Thriller"]
    prompt = prompt_ids(tokenizer, question)
    # a one-token continuation too: it is scored from the prompt's last position alone
    conts = [answer_ids(tokenizer, a) for a in answers] + [answer_ids(tokenizer, "Nolan")[:1]]
    full = torch.cat([sequence_logprob(tiny_model, collate([(prompt + c, [IGNORE] * len(prompt) + c)], 0))
                      for c in conts])
    shared = continuation_logprobs(tiny_model, prompt, conts, batch_size=3)
    assert torch.allclose(full, shared, atol=1e-5)
    assert len(set(shared.tolist())) == len(conts)  # the candidates really differ
    # batched by length, returned in the given order: one per batch and all in one agree
    alone = continuation_logprobs(tiny_model, prompt, conts, batch_size=1)
    assert torch.allclose(alone, shared, atol=1e-5)
    with pytest.raises(ValueError, match="empty continuation"):
        continuation_logprobs(tiny_model, prompt, conts + [[]], batch_size=3)


def _chunk_cost(chunks, lengths, overhead):
    return sum(overhead + len(c) * max(lengths[i] for i in c) for c in chunks)


def _partitions(items):
    """Every split of a list into consecutive runs."""
    if not items:
        yield []
        return
    for k in range(1, len(items) + 1):
        for rest in _partitions(items[k:]):
            yield [items[:k]] + rest


def test_length_chunks_cover_every_item_once_at_least_cost():
    lengths = [2, 13, 3, 2, 7, 7, 4, 2, 12, 3]
    for overhead in (0, 4, 32):
        chunks = length_chunks(lengths, batch_size=4, overhead=overhead)
        assert sorted(i for c in chunks for i in c) == list(range(len(lengths)))
        assert all(len(c) <= 4 for c in chunks)
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        cheapest = min(_chunk_cost(p, lengths, overhead) for p in _partitions(order)
                       if all(len(c) <= 4 for c in p))
        assert _chunk_cost(chunks, lengths, overhead) == cheapest
    # no overhead: no padding at all; a large one: full batches
    assert length_chunks([2, 10], 8, overhead=0) == [[0], [1]]
    assert sorted(map(len, length_chunks([3] * 5, 2))) == [1, 2, 2]
    assert length_chunks([2, 3, 4], 8, overhead=100) == [[0, 1, 2]]


def test_perplexity_sample_keeps_every_forget_line(tiny_model, tokenizer):
    forget = [True, False, False, True, False, False, False, False]
    corpus = pd.DataFrame({"line_id": range(8), "title": list("abcdefgh"), "forget": forget,
                           "split": ["held_out"] * 7 + ["train"],
                           "text": ["Inception was directed by Christopher Nolan"] * 8})
    every = perplexity_samples(tiny_model, tokenizer, corpus, 4)
    assert every.line_id.tolist() == list(range(7))
    sample = perplexity_samples(tiny_model, tokenizer, corpus, 4, other_lines=2, seed=1)
    assert sample.forget.sum() == 2 and (~sample.forget).sum() == 2
    assert set(sample.line_id) <= set(every.line_id)
    assert sample.equals(perplexity_samples(tiny_model, tokenizer, corpus, 4, other_lines=2, seed=1))
    assert (~perplexity_samples(tiny_model, tokenizer, corpus, 4, other_lines=99).forget).sum() == 5


def test_scores_without_a_cache_equal_the_shared_cache_scores(tiny_model, tokenizer, monkeypatch):
    import actunlearn.models.scoring as modeling
    prompt = prompt_ids(tokenizer, "Who directed Inception?")
    conts = [answer_ids(tokenizer, a) for a in ("Christopher Nolan", "Inception", "I do not know")]
    cached = continuation_logprobs(tiny_model, prompt, conts, batch_size=2)
    monkeypatch.setattr(modeling, "_cache_of", lambda out: None)  # a model that returns no cache
    assert torch.allclose(continuation_logprobs(tiny_model, prompt, conts, batch_size=2), cached,
                          atol=1e-5)
