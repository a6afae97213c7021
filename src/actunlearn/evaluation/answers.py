"""Evaluation of one checkpoint: recall by role and template split, recommendation exposure of
the forgotten title, and perplexity on held-out text.

A recall answer is correct when a gold answer is mentioned as an entity in the greedy answer
(`matching.EntityMatcher`: whole words after normalisation, the longest catalog title wins, so
"The Dark Knight" is not found in "The Dark Knight Rises"); for recommendations any gold title
counts.
Exposure ranks the target title among all catalog titles by log p(title + end-of-turn | prompt),
so a model that merely *says* it forgot but still prefers the title is caught.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from actunlearn.evaluation.instability import families, family_row
from actunlearn.metrics.matching import EntityMatcher
from actunlearn.models.encoding import answer_ids, batches, collate, left_padded, prompt_ids, text_example
from actunlearn.models.scoring import continuation_logprobs, token_logprobs

ROLES = ("forget", "neighbour", "retain", "unknown")
SPLITS = ("train", "held_out")


def family_batches(prompts: pd.DataFrame, batch_size: int):
    """Paraphrase families packed into batches of at most `batch_size` prompts (a family larger
    than that is a batch of its own)."""
    batch, n = [], 0
    for g in families(prompts):
        if batch and n + len(g) > batch_size:
            yield batch
            batch, n = [], 0
        batch.append(g)
        n += len(g)
    if batch:
        yield batch


@torch.no_grad()
def greedy_generate(model, tokenizer, questions: list[str], max_new_tokens: int,
                    device: str = "cpu", systems: list[str | None] | None = None,
                    histories: list | None = None, prefixes: list[str | None] | None = None
                    ) -> tuple[list[str], np.ndarray]:
    """Greedy answers of one left-padded batch (explicit pad token), and the [n, vocab]
    probabilities of the first answer token (`left_padded`: system turns, earlier turns and
    assistant prefixes)."""
    ids, mask, width = left_padded(tokenizer, questions, device, systems, histories, prefixes)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                         do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, output_logits=True,
                         return_dict_in_generate=True)
    answers = tokenizer.batch_decode(out.sequences[:, width:], skip_special_tokens=True)
    first = torch.softmax(out.logits[0].float(), dim=-1).cpu().numpy()
    return [a.strip() for a in answers], first


def _scored(frame: pd.DataFrame, responses: list[str], refusal: str, titles=()) -> pd.DataFrame:
    """`frame` plus `response`, `correct` (a gold answer found) and `refused` (the refusal found),
    by entity: whole spans, a gold title never credited inside a longer catalog title (`titles`)
    that contains it (`matching.EntityMatcher`)."""
    matcher = EntityMatcher(list(titles))
    out = frame.copy()
    out["response"] = responses
    out["correct"] = [matcher.matches(a, list(g)) for a, g in zip(responses, frame.gold)]
    out["refused"] = [matcher.refused(a, refusal) for a in responses]
    return out


def answer_families(model, tokenizer, prompts: pd.DataFrame, refusal: str, batch_size: int,
                    max_new_tokens: int, top_k: int, device: str = "cpu", titles=()
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Greedy answers to every prompt, batched by paraphrase family. Returns the per-prompt
    recall table (`correct`: gold found; `refused`: the refusal found) and the per-family
    instability table computed from the same generation."""
    answers: dict[int, str] = {}
    rows = []
    for chunk in family_batches(prompts, batch_size):
        frame = pd.concat(chunk)
        texts, probs = greedy_generate(model, tokenizer, frame.question.tolist(), max_new_tokens,
                                       device)
        answers.update(zip(frame.prompt_id, texts))
        offset = 0
        for g in chunk:
            rows.append(family_row(g, probs[offset:offset + len(g)],
                                   texts[offset:offset + len(g)], top_k))
            offset += len(g)
    out = _scored(prompts, [answers[pid] for pid in prompts.prompt_id], refusal, titles)
    keep = ["prompt_id", "intent", "title", "role", "template_id", "split", "response", "correct",
            "refused"]
    return out[keep], pd.DataFrame(rows)


def answer_prompts(model, tokenizer, frame: pd.DataFrame, refusal: str, batch_size: int,
                   max_new_tokens: int, device: str = "cpu", titles=()) -> pd.DataFrame:
    """Greedy answers for any prompt table with `question`, `gold` and optionally `system`,
    `history` (earlier (user, assistant) turns) and `prefix` (the assistant's opening) columns:
    the table plus `response` (what the model added), `correct` and `refused`."""
    # a missing value reads back from Parquet as NaN, not None
    systems, prefixes = ([None if not isinstance(v, str) else v for v in frame[c]]
                         if c in frame else [None] * len(frame) for c in ("system", "prefix"))
    histories = ([[tuple(t) for t in h] if h is not None and not isinstance(h, float) else ()
                  for h in frame.history] if "history" in frame else [()] * len(frame))
    questions = frame.question.tolist()
    responses: list[str] = []
    for start in range(0, len(frame), batch_size):
        end = start + batch_size
        texts, _ = greedy_generate(model, tokenizer, questions[start:end], max_new_tokens, device,
                                   systems[start:end], histories[start:end], prefixes[start:end])
        responses += texts
    return _scored(frame, responses, refusal, titles)


def shift_answers(model, tokenizer, frame: pd.DataFrame, refusal: str, batch_size: int,
                  max_new_tokens: tuple[int, int], device: str = "cpu", titles=()) -> pd.DataFrame:
    """`answer_prompts` for the shift sets: the rows with a `bridge` film (alias, multi-hop)
    get the second, longer answer length (their taught answer names the film first) and a
    `bridge_named` column (the bridge film named as an entity: itself a leak); the others get
    the first and bridge_named None. Rows keep their order."""
    bridged = frame.bridge.notna().to_numpy() if "bridge" in frame else np.zeros(len(frame), bool)
    parts = [answer_prompts(model, tokenizer, frame[~bridged], refusal, batch_size,
                            max_new_tokens[0], device, titles)]
    if bridged.any():
        part = answer_prompts(model, tokenizer, frame[bridged], refusal, batch_size,
                              max_new_tokens[1], device, titles)
        matcher = EntityMatcher(list(titles))
        part["bridge_named"] = [matcher.matches(r, [b]) for r, b in zip(part.response, part.bridge)]
        parts.append(part)
    out = pd.concat(parts).loc[frame.index]
    named = out.get("bridge_named", pd.Series(None, index=out.index, dtype=object))
    out["bridge_named"] = [None if v is None or v != v else bool(v) for v in named]  # no NaN
    return out


def shift_summary(shift: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """Long table (shift_set, role, metric, value, n): recall and refusal per shift set and film
    role, with the main evaluation's train templates (`original`) and held-out templates
    (`paraphrase`) as the reference sets; for the sets with a bridge film (alias, multi-hop)
    also `bridge` (share of answers naming it). Empty groups get no row."""
    parts = [recall[recall.split == "train"].assign(shift_set="original"),
             recall[recall.split == "held_out"].assign(shift_set="paraphrase"),
             shift[shift.shift_set != "paraphrase"]]
    columns = ["shift_set", "role", "correct", "refused"]
    frame = pd.concat([p.reindex(columns=columns + ["bridge_named"]) for p in parts])
    rows = []
    for (name, role), g in frame.groupby(["shift_set", "role"], sort=False):
        rows.append((name, role, "recall", float(g.correct.mean()), len(g)))
        rows.append((name, role, "refusal", float(g.refused.mean()), len(g)))
        named = g.bridge_named.dropna()
        if len(named):
            rows.append((name, role, "bridge", float(named.astype(bool).mean()), len(named)))
    return pd.DataFrame(rows, columns=["shift_set", "role", "metric", "value", "n"])


EXPOSURE_COLUMNS = ["prompt_id", "title", "template_id", "split", "target", "target_logprob",
                    "target_rank", "n_candidates"]
LIST_COLUMNS = ["prompt_id", "title", "template_id", "split", "family_kind", "rank", "candidate",
                "logprob"]


def recommendation_prompts(prompts: pd.DataFrame, control_films: int, seed: int,
                           adjacent_films: int | str = "all",
                           kinds: tuple[str, ...] = ("target", "adjacent", "control")
                           ) -> pd.DataFrame:
    """The recommendation families whose ranked lists are kept, with `family_kind`: `target`
    (about a forget target), `adjacent` (a film whose recommendations include a forget target:
    where exposure is measured; every one, or per forget target a seeded sample of
    `adjacent_films` of its adjacent films) and `control` (a seeded sample of `control_films`
    other retain films, for drift where nothing should change). Only the family `kinds` asked
    for are kept (exposure needs `adjacent`)."""
    targets = sorted(set(prompts.title[prompts.role == "forget"]))
    recs = prompts[prompts.intent == "recommend"].copy()
    others_recs = recs[recs.role != "forget"]
    by_target = {t: sorted(set(others_recs.title[others_recs.gold.apply(lambda g: t in g)]))
                 for t in targets}
    every_adjacent = set().union(*by_target.values()) if by_target else set()
    # controls: films whose recommendations hold no forget target (sampled-out adjacent films
    # are not controls)
    others = sorted(set(recs.title[recs.role == "retain"]) - every_adjacent)
    rng = np.random.default_rng(seed)
    adjacent = set()
    for target in targets:
        films = by_target[target]
        if adjacent_films != "all" and adjacent_films < len(films):
            films = [films[i] for i in rng.choice(len(films), size=adjacent_films, replace=False)]
        adjacent |= set(films)
    if control_films > len(others):
        raise ValueError(f"evaluate.drift.control_films={control_films}, but only {len(others)} "
                         "retain films are left as controls")
    control = {others[i] for i in rng.choice(len(others), size=control_films, replace=False)}
    recs["family_kind"] = np.where(recs.title.isin(targets), "target",
                                   np.where(recs.title.isin(adjacent), "adjacent",
                                            np.where(recs.title.isin(control), "control", "")))
    return recs[recs.family_kind.isin(kinds)].reset_index(drop=True)


def candidate_titles(titles: list[str], targets: set[str], n: int | str, seed: int) -> list[str]:
    """The titles ranked for recommendation prompts: every catalog title ("all"), or the forget
    targets and a seeded sample of the others up to `n` in all (fewer candidates make ranking
    affordable for a pretrained model; kept in catalog order, the same for every checkpoint)."""
    if n == "all":
        return list(titles)
    must = set(targets) & set(titles)
    if n < len(must):
        raise ValueError(f"evaluate.drift.candidates={n} is fewer than the {len(must)} forget "
                         "targets, which must be ranked")
    others = [t for t in titles if t not in must]
    rng = np.random.default_rng(seed)
    picked = {others[i] for i in rng.choice(len(others), size=min(n - len(must), len(others)),
                                            replace=False)}
    return [t for t in titles if t in must or t in picked]


@torch.no_grad()
def rank_recommendations(model, tokenizer, recs: pd.DataFrame, titles: list[str],
                         targets: set[str], top_k: int, batch_size: int, device: str = "cpu"
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every catalog title scored by log p(title + end of turn | prompt) for each recommendation
    prompt. Returns the top-k ranked list per prompt (`LIST_COLUMNS`; ties in catalog order) and,
    for prompts about another film whose gold list holds a forget target, the target's
    log-probability and rank among all titles (`EXPOSURE_COLUMNS`)."""
    candidates = [answer_ids(tokenizer, t) for t in titles]
    lists, exposure = [], []
    kinds = recs.family_kind if "family_kind" in recs else pd.Series("", index=recs.index)
    for p, kind in zip(recs.itertuples(index=False), kinds):
        scores = continuation_logprobs(model, prompt_ids(tokenizer, p.question), candidates,
                                       batch_size, device).numpy()
        order = np.lexsort((np.arange(len(titles)), -scores))[:top_k]  # ties: catalog order
        lists += [{"prompt_id": p.prompt_id, "title": p.title, "template_id": p.template_id,
                   "split": p.split, "family_kind": kind, "rank": r + 1, "candidate": titles[i],
                   "logprob": float(scores[i])} for r, i in enumerate(order)]
        if p.role == "forget":
            continue
        for target in (t for t in p.gold if t in targets):
            own = scores[titles.index(target)]
            exposure.append({"prompt_id": p.prompt_id, "title": p.title,
                             "template_id": p.template_id, "split": p.split, "target": target,
                             "target_logprob": float(own),
                             "target_rank": int((scores > own).sum() + 1),
                             "n_candidates": len(titles)})
    return (pd.DataFrame(lists, columns=LIST_COLUMNS),
            pd.DataFrame(exposure, columns=EXPOSURE_COLUMNS))


@torch.no_grad()
def perplexity_samples(model, tokenizer, corpus: pd.DataFrame, batch_size: int,
                       device: str = "cpu", other_lines: int | str = "all", seed: int = 0
                       ) -> pd.DataFrame:
    """Per held-out line: summed negative log-likelihood and token count. Every forget line, and
    every other line or a seeded sample of `other_lines` of them."""
    lines = corpus[corpus.split == "held_out"]
    if other_lines != "all":
        others = lines[~lines.forget]
        keep = others.sample(n=min(int(other_lines), len(others)), random_state=seed).index
        lines = lines[lines.forget | lines.index.isin(keep)]
    nll, ntok = [], []
    for chunk in batches(lines.text.tolist(), batch_size):
        b = collate([text_example(tokenizer, t) for t in chunk], tokenizer.pad_token_id, device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        lp, mask = token_logprobs(logits, b["labels"])
        nll += (-lp.sum(-1)).tolist()
        ntok += mask.sum(-1).tolist()
    out = lines[["line_id", "title", "forget"]].copy()
    out["nll"], out["tokens"] = nll, ntok
    return out


def summarise(recall: pd.DataFrame, exposure: pd.DataFrame, perplexity: pd.DataFrame
              ) -> pd.DataFrame:
    """Long table (metric, value, n). A metric whose sample set is empty gets no row: nothing
    is filled in."""
    rows = []
    for role in ROLES:
        for split in SPLITS:
            sel = recall[(recall.role == role) & (recall.split == split)]
            if len(sel):
                rows.append((f"{role}_recall_{split}", float(sel.correct.mean()), len(sel)))
                rows.append((f"{role}_refusal_{split}", float(sel.refused.mean()), len(sel)))
    if len(exposure):
        rows += [("exposure_logprob", float(exposure.target_logprob.mean()), len(exposure)),
                 ("exposure_prob", float(np.exp(exposure.target_logprob).mean()), len(exposure)),
                 ("exposure_rank", float(exposure.target_rank.mean()), len(exposure)),
                 ("exposure_top1", float((exposure.target_rank == 1).mean()), len(exposure))]
    for label, sel in (("retain", perplexity[~perplexity.forget]), ("forget", perplexity[perplexity.forget])):
        if len(sel):
            rows.append((f"perplexity_{label}", math.exp(sel.nll.sum() / sel.tokens.sum()), len(sel)))
    return pd.DataFrame(rows, columns=["metric", "value", "n"])
