"""Unlearning data and the training loop every trained method shares; no method lives here
(the methods, every forget objective included, are registered in actunlearn.unlearning.methods).

The forget pool, the same for every method: the forget films' fact questions (train templates)
with their gold answers, and the recommendation contexts (train templates) whose answer names a
forget film. Every trained method samples `forget_batch` items of it per step, so the methods see
the same forget data; the retain term reads `retain_batch` corpus lines that do not mention a
forget film (statements with full LM loss, questions with answer loss). `UnlearnData.refuse`
holds the pool's fact questions with the refusal as answer, for the refusal objective
(unlearning/methods/objectives.py). Every checkpoint's manifest lists what it trained on; held-out templates
never appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch

from actunlearn.evaluation.answers import answer_prompts
from actunlearn.models.encoding import line_examples, qa_example


@dataclass
class UnlearnData:
    """What a method may train on, and the probes of its log. The forget pool, the same for every
    method, is `forget_check + expose`: fact questions with their gold answers, then
    recommendation contexts with the forget title they recommend. Every trained method samples
    `forget_batch` items of that pool per step (`sample_forget`)."""
    refuse: list      # (ids, labels): forget question -> refusal, parallel to forget_check
    expose: list      # (ids, labels): recommendation prompt -> target title (to push down)
    retain: list      # (ids, labels): retain corpus lines about other films
    neighbours: list  # (ids, labels): retain corpus lines about neighbour films
    forget_check: list  # (ids, labels): forget question -> gold answer
    retain_check: list  # (ids, labels): retain question -> gold answer (probe; SSD's retain Fisher)
    # model -> (forget recall, retain recall) by greedy answers and the evaluation's matcher;
    # None: teacher-forced argmax on forget_check / retain_check
    probe: Callable | None = None
    # one row per training item: use (forget, expose, retain, neighbour, retain_check), prompt_id,
    # line_id, question, text
    manifest: pd.DataFrame | None = None


MANIFEST_COLUMNS = ["use", "prompt_id", "line_id", "question", "text"]


PROBE_RETAIN = 64  # retain check questions the log's greedy probe asks


def sample_forget(data: UnlearnData, n: int, gen: torch.Generator) -> list[int]:
    """`n` indices into the forget pool (forget_check + expose), seeded."""
    size = len(data.forget_check) + len(data.expose)
    if size == 0:
        raise ValueError("unlearn: the forget pool is empty (no forget question, no "
                         "recommendation context)")
    return torch.randint(size, (n,), generator=gen).tolist()


def pool_examples(data: UnlearnData, idx: list[int]) -> list:
    """The forget-pool items `idx`: gold fact answers, then exposed titles."""
    pool = data.forget_check + data.expose
    return [pool[i] for i in idx]


def _manifest_rows(use: str, frame: pd.DataFrame, text: list[str] | None = None) -> pd.DataFrame:
    out = pd.DataFrame({"use": use,
                        "prompt_id": frame.prompt_id if "prompt_id" in frame else None,
                        "line_id": frame.line_id if "line_id" in frame else None,
                        "question": frame.question if "question" in frame else None,
                        "text": text if text is not None else
                        (frame.text if "text" in frame else frame.question)})
    return out.reset_index(drop=True)


def greedy_probe(tokenizer, forget: pd.DataFrame, retain: pd.DataFrame, refusal: str,
                 titles: list[str], max_new_tokens: int, batch_size: int = 64,
                 device: str = "cpu") -> Callable:
    """model -> (forget recall, retain recall) with the evaluation's greedy answers and entity
    matcher, so the log moves when the model's answers do (a pretrained model answers in
    sentences, where a teacher-forced check of the bare gold answer reads 0)."""

    def probe(model):
        out = []
        for frame in (forget, retain):
            if frame.empty:
                out.append(float("nan"))
                continue
            scored = answer_prompts(model, tokenizer, frame, refusal, batch_size, max_new_tokens,
                                    device, titles=titles)
            out.append(float(scored.correct.mean()))
        return tuple(out)

    return probe


def build_unlearn_data(tokenizer, prompts: pd.DataFrame, corpus: pd.DataFrame, refusal: str,
                       retain_check: int = 200, seed: int = 0,
                       own_answers: pd.DataFrame | None = None,
                       recommendations: pd.DataFrame | None = None,
                       titles: list[str] | None = None, max_new_tokens: int = 8,
                       device: str = "cpu") -> UnlearnData:
    """Everything comes from training templates (split='train'): held-out ones stay unseen.
    The retain lines are the corpus (what the testbed was trained on) or, with `own_answers`
    (the base model's greedy answers from the knowledge check: question, response, role,
    split), the model's own answers to questions about neighbour and retain films: for a
    pretrained model, which never saw the corpus, keeping its behaviour means keeping those.
    `recommendations`: the prompt table whose recommendation requests give the exposure
    contexts (default `prompts`; pass the full table for a model whose known facts hold no
    recommendation intent: the contexts are asked of every model). With `titles` (the catalog's),
    the log's probes answer greedily and match by entity (`greedy_probe`)."""
    forget_titles = set(prompts.title[prompts.role == "forget"])
    train = prompts[prompts.split == "train"]
    forget_q = train[train.role == "forget"]
    recs = prompts if recommendations is None else recommendations
    recs = recs[recs.split == "train"]
    exposed = recs[~recs.title.isin(forget_titles) & (recs.intent == "recommend")
                   & recs.gold.apply(lambda g: any(t in forget_titles for t in g))]
    expose, expose_rows = [], []
    for p in exposed.itertuples(index=False):
        for title in p.gold:
            if title in forget_titles:
                expose.append(qa_example(tokenizer, p.question, title))
                expose_rows.append({"prompt_id": p.prompt_id, "question": p.question,
                                    "text": f"{p.question} {title}"})
    manifest = [_manifest_rows("forget", forget_q,
                               [f"{q} {a}" for q, a in zip(forget_q.question, forget_q.answer)]),
                _manifest_rows("expose", pd.DataFrame(expose_rows, columns=["prompt_id", "question",
                                                                            "text"]))]
    if own_answers is None:
        lines = corpus[(corpus.split == "train") & ~corpus.forget]
        near = lines.title.isin(set(prompts.title[prompts.role == "neighbour"]))
        retain, neighbours = _encode_lines(tokenizer, lines[~near]), _encode_lines(tokenizer, lines[near])
        manifest += [_manifest_rows("retain", lines[~near]), _manifest_rows("neighbour", lines[near])]
    else:
        own = own_answers[(own_answers.split == "train") & own_answers.role.isin(["neighbour", "retain"])]
        if own.empty:
            raise ValueError("own_answers holds no neighbour or retain answers to keep")
        groups = (own[own.role == "retain"], own[own.role == "neighbour"])
        retain, neighbours = ([qa_example(tokenizer, q, a) for q, a in zip(g.question, g.response)]
                              for g in groups)
        manifest += [_manifest_rows(use, g, [f"{q} {a}" for q, a in zip(g.question, g.response)])
                     for use, g in zip(("retain", "neighbour"), groups)]
    others = train[train.role.isin(["neighbour", "retain"])]
    others = others.sample(n=min(retain_check, len(others)), random_state=seed)
    manifest.append(_manifest_rows("retain_check", others,
                                   [f"{q} {a}" for q, a in zip(others.question, others.answer)]))
    # the log's greedy probes ask the first PROBE_RETAIN of the (seeded) retain check sample:
    # generation is the probes' cost, and SSD's retain Fisher keeps the whole sample
    probe = (None if titles is None else
             greedy_probe(tokenizer, forget_q, others.head(PROBE_RETAIN), refusal, titles,
                          max_new_tokens, device=device))
    return UnlearnData(
        refuse=[qa_example(tokenizer, q, refusal) for q in forget_q.question],
        expose=expose,
        retain=retain,
        neighbours=neighbours,
        forget_check=[qa_example(tokenizer, q, a) for q, a in zip(forget_q.question, forget_q.answer)],
        retain_check=[qa_example(tokenizer, q, a) for q, a in zip(others.question, others.answer)],
        probe=probe,
        manifest=pd.concat(manifest, ignore_index=True)[MANIFEST_COLUMNS],
    )


def _encode_lines(tokenizer, lines: pd.DataFrame) -> list:
    """Corpus lines as trained: statements with LM loss, questions with answer loss."""
    return line_examples(tokenizer, lines)


def retain_batch_examples(data: UnlearnData, size: int, neighbour_share: float,
                          gen: torch.Generator) -> list:
    """`size` retain lines, a `neighbour_share` of them about neighbour films (the facts most
    at risk, since they share the target's director or star)."""
    n_near = round(size * neighbour_share) if data.neighbours else 0
    return sample_examples(data.neighbours, n_near, gen) + sample_examples(data.retain, size - n_near, gen)


def sample_examples(items: list, n: int, gen: torch.Generator) -> list:
    """`n` items drawn with replacement (none for n = 0); drawing from no items is an error."""
    if n == 0:
        return []
    if not items:
        raise ValueError(f"cannot draw {n} examples from an empty pool")
    idx = torch.randint(len(items), (n,), generator=gen).tolist()
    return [items[i] for i in idx]
