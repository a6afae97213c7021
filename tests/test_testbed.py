import torch

from actunlearn.models.encoding import qa_example
from actunlearn.models.scoring import teacher_forced_correct
from actunlearn.models.testbed import new_model, testbed_config, train


def _run(tokenizer, seed):
    examples = [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan", True),
                qa_example(tokenizer, "What genre is Memento?", "Thriller", True)]
    probe = [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan")]
    model = new_model(testbed_config(tokenizer, 16, 32, 2, 2), seed)
    log = train(model, examples, probe, tokenizer.pad_token_id, epochs=40, batch_size=2,
                learning_rate=0.02, warmup_steps=2, seed=seed)
    return model, log, probe


def test_training_learns_and_is_deterministic(tokenizer):
    m1, log1, probe = _run(tokenizer, seed=3)
    m2, log2, _ = _run(tokenizer, seed=3)
    assert log1[-1]["recall"] == 1.0 and log1[-1]["loss"] < log1[0]["loss"]
    assert teacher_forced_correct(m1, probe, tokenizer.pad_token_id) == [True]
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert [r["loss"] for r in log1] == [r["loss"] for r in log2]


def test_recall_probes_are_sampled_before_the_last_epoch_and_complete_after_it(tokenizer):
    examples = [qa_example(tokenizer, "Who directed Inception?", "Christopher Nolan", True)]
    probe = [qa_example(tokenizer, q, "Christopher Nolan")
             for q in ("Who directed Inception?", "Who made Inception?", "Inception's director?")]
    model = new_model(testbed_config(tokenizer, 16, 32, 2, 2), 0)
    log = train(model, examples, probe, tokenizer.pad_token_id, epochs=3, batch_size=1,
                learning_rate=0.01, warmup_steps=1, seed=0, probe_sample=2)
    assert [r["n_recall"] for r in log] == [2, 2, 3]
