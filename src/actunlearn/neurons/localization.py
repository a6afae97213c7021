"""Ground truth for neuron rankings: plant facts in known neurons, then see whether a ranking finds
them (recovery) and whether ablating what it ranks first removes them (deletion).

A ranking of MLP neurons (`ranking.rank_neurons`) claims that its top neurons hold the forget
concept, but on a real concept nobody knows which neurons do. Following Chang et al. 2024 ("Do
Localization Methods Actually Localize Memorized Data in LLMs? A Tale of Two Benchmarks", NAACL),
the INJ benchmark makes the answer known: new facts are injected by fine-tuning only a chosen set
of neurons, so that set is where those facts live, by construction.

- What is planted: question -> answer facts about made-up films (`fictitious_facts`), trained
  into a copy of the model (`plant_facts`) where only k chosen neurons per chosen layer
  (`choose_planted`) can change. A neuron f of layer l is the input column f of
  `layers.l.mlp.down_proj` (act(gate(x)) * up(x)); its parameters are row f of `gate_proj` and
  `up_proj` (and their biases, if any) and column f of `down_proj`. Every other weight stays
  bit-identical (checked).
- What counts as recovered (`recovery`): a ranking computed on the planted model, with the
  planted facts as the forget set, puts the planted neurons at the top: precision@k (k = number
  of planted neurons: the share of the top-k that are planted) and the ROC AUC of its score for
  planted vs all other neurons. A random ranking (`random_ranking`) gives k/n and 0.5 in
  expectation; `localization_table` scores every ranking and the random control with the same
  code.
- Deletion (Chang et al.'s DEL; `deletion_curve`): zero the top-m ranked neurons (`ablate`) and
  measure teacher-forced recall of the forget facts and of retain facts, against m random
  neurons. A ranking that localizes drops forget recall faster than retain recall, and faster
  than random ablation; `deletion_auc` summarises each curve in one number.

Caveat, as in Chang et al.: planted facts may be stored more locally than facts learnt in
pre-training (here the whole model learnt them at once), so recovery is necessary evidence that
a method can localize, not proof that the real concept is as local.
"""

from __future__ import annotations

import copy
import math
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from actunlearn.models.encoding import collate, qa_example
from actunlearn.models.loading import decoder_layers
from actunlearn.models.scoring import teacher_forced_correct
from actunlearn.neurons.activations import dump_activations
from actunlearn.neurons.probing import contrastive_difference
from actunlearn.neurons.ranking import SCORES, rank_neurons
from actunlearn.neurons.scores import neuron_scores

# Word lists of the made-up films: no "The <word> <word>" title built from them is a title of
# the packaged OMDb catalog, and no director name is a catalog director (both tested).
TITLE_WORDS = ("Glass", "Copper", "Hollow", "Silent", "Paper", "Amber", "Velvet", "Northern",
               "Crooked", "Lantern", "Quiet", "Salt", "Iron", "Winter", "Sunken", "Painted")
TITLE_NOUNS = ("Orchard", "Harbour", "Meridian", "Lighthouse", "Archive", "Cartographer", "Tide",
               "Garden", "Bellwether", "Staircase", "Orchestra", "Compass", "Vineyard", "Foundry",
               "Aviary", "Observatory")
FIRST_NAMES = ("Mara", "Teodor", "Ilse", "Casimir", "Odile", "Bram", "Linnea", "Anselm", "Petra",
               "Ivo", "Saskia", "Evander")
LAST_NAMES = ("Lindqvist", "Okonkwo", "Varga", "Halloran", "Brezina", "Castellane", "Moravec",
              "Thorsby", "Quillan", "Ashdown", "Ferreira", "Nakashima")
YEARS = tuple(range(1950, 2021))
TEMPLATES = {"director": "Who directed {title}?", "year": "When was {title} released?"}
ABLATED = ("ranked", "random")


# --- planted facts -------------------------------------------------------------------------

def fictitious_facts(n_films: int, seed: int) -> pd.DataFrame:
    """Rows (title, intent, question, answer): a director and a release-year question for each of
    `n_films` made-up films. Titles ("The Glass Orchard"), directors and years are seeded draws
    from fixed word lists, distinct across films (directors too)."""
    n_titles = len(TITLE_WORDS) * len(TITLE_NOUNS)
    n_directors = len(FIRST_NAMES) * len(LAST_NAMES)
    if not 1 <= n_films <= min(n_titles, n_directors):
        raise ValueError(f"fictitious_facts: n_films must be in 1..{min(n_titles, n_directors)}, "
                         f"got {n_films}")
    rng = np.random.default_rng(seed)
    titles = rng.choice(n_titles, n_films, replace=False)
    directors = rng.choice(n_directors, n_films, replace=False)
    years = rng.choice(YEARS, n_films)
    rows = []
    for t, d, year in zip(titles, directors, years):
        title = f"The {TITLE_WORDS[t // len(TITLE_NOUNS)]} {TITLE_NOUNS[t % len(TITLE_NOUNS)]}"
        director = f"{FIRST_NAMES[d // len(LAST_NAMES)]} {LAST_NAMES[d % len(LAST_NAMES)]}"
        for intent, answer in (("director", director), ("year", str(int(year)))):
            rows.append({"title": title, "intent": intent,
                         "question": TEMPLATES[intent].format(title=title), "answer": answer})
    return pd.DataFrame(rows)


def fact_examples(tokenizer, facts: pd.DataFrame) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) question -> answer examples of a facts frame (question, answer)."""
    if len(facts) == 0:
        raise ValueError("no facts: at least one (question, answer) row is needed")
    return [qa_example(tokenizer, q, a) for q, a in zip(facts.question, facts.answer)]


def choose_planted(n_layers: int, n_neurons: int, layers: list[int], k: int, seed: int
                   ) -> dict[int, list[int]]:
    """{layer: sorted neurons}: `k` seeded random neurons in each of `layers`."""
    layers = [int(layer) for layer in layers]
    bad = sorted({layer for layer in layers if not 0 <= layer < n_layers})
    if not layers or bad or len(set(layers)) != len(layers):
        raise ValueError(f"choose_planted: layers must be distinct and in 0..{n_layers - 1}; "
                         f"got {layers}")
    if not 1 <= k <= n_neurons:
        raise ValueError(f"choose_planted: k={k} neurons per layer, but a layer has {n_neurons}")
    rng = np.random.default_rng(seed)
    return {layer: sorted(int(f) for f in rng.choice(n_neurons, k, replace=False))
            for layer in sorted(layers)}


def _check_neurons(model, neurons: dict[int, list[int]]) -> None:
    n_layers, width = len(decoder_layers(model)), model.config.intermediate_size
    for layer, idx in neurons.items():
        if not 0 <= int(layer) < n_layers:
            raise ValueError(f"neurons: layer {layer} does not exist (model has {n_layers})")
        bad = [int(f) for f in idx if not 0 <= int(f) < width]
        if bad:
            raise ValueError(f"neurons: layer {layer} has no neurons {bad[:5]} "
                             f"(intermediate size {width})")


def neuron_parameters(model, neurons: dict[int, list[int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, boolean mask of the entries that belong to the chosen neurons) for every MLP
    parameter a chosen neuron owns: rows of gate_proj and up_proj (and their biases), columns of
    down_proj. down_proj's bias is shared by all neurons and is not included."""
    _check_neurons(model, neurons)
    blocks, out = decoder_layers(model), []
    for layer, idx in sorted(neurons.items()):
        if not idx:
            continue
        mlp, idx = blocks[int(layer)].mlp, torch.as_tensor(sorted(set(map(int, idx))))
        for proj in (mlp.gate_proj, mlp.up_proj):
            for p in (proj.weight, proj.bias):
                if p is not None:
                    mask = torch.zeros_like(p, dtype=torch.bool)
                    mask[idx.to(p.device)] = True
                    out.append((p, mask))
        w = mlp.down_proj.weight
        mask = torch.zeros_like(w, dtype=torch.bool)
        mask[:, idx.to(w.device)] = True
        out.append((w, mask))
    return out


def _batches_forever(n: int, batch_size: int, gen: torch.Generator):
    """Index batches of `batch_size` over range(n), reshuffled (seeded) on every pass."""
    order: list[int] = []
    while True:
        while len(order) < batch_size:
            order += torch.randperm(n, generator=gen).tolist()
        yield order[:batch_size]
        order = order[batch_size:]


def plant_facts(model, examples, neurons: dict[int, list[int]], steps: int, learning_rate: float,
                batch_size: int, seed: int, device: str = "cpu", keep_examples=None):
    """A deep copy of `model` fine-tuned on question -> answer `examples` (qa_example pairs) where
    only the chosen neurons' parameters (`neuron_parameters`) change: every other parameter is
    frozen and the gradients of the shared weight matrices are masked to the chosen rows and
    columns. AdamW without weight decay, so a zero gradient is a zero update; `steps` batches of
    `batch_size`, drawn by a seeded reshuffle each pass over the examples.

    With `keep_examples` (e.g. facts the model knows), each step also adds the loss of a batch of
    them, so the chosen neurons learn the new facts without rewriting other answers: planted
    neurons then are specific to the planted facts, as a concept's neurons are meant to be.
    Without it, a small model's planted neurons tend to change every answer of the same template,
    and scores that subtract the retain side (ranking `contrast`) rightly stop singling them out.

    After training it is checked that every other weight is bit-identical (RuntimeError if not).
    Returned in eval mode, with the original's requires_grad flags."""
    if not examples or keep_examples is not None and not keep_examples:
        raise ValueError("plant_facts needs at least one example (and one keep example, if given)")
    if steps < 1 or batch_size < 1 or not learning_rate > 0:
        raise ValueError(f"plant_facts: steps={steps}, batch_size={batch_size} and "
                         f"learning_rate={learning_rate} must be positive")
    if not any(neurons.values()):
        raise ValueError("plant_facts: no neurons chosen")
    planted = copy.deepcopy(model).to(device)
    flags = [p.requires_grad for p in planted.parameters()]
    before = {name: p.detach().clone() for name, p in planted.named_parameters()}
    owned = neuron_parameters(planted, neurons)
    for p in planted.parameters():
        p.requires_grad_(False)
    handles = []
    for p, mask in owned:
        p.requires_grad_(True)
        handles.append(p.register_hook(lambda g, m=mask: g * m))
    opt = torch.optim.AdamW([p for p, _ in owned], lr=learning_rate, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    pad_id = 0  # any id: padded positions are masked out and carry no labels
    sets = [examples] + ([keep_examples] if keep_examples else [])
    draws = [_batches_forever(len(s), batch_size, gen) for s in sets]
    planted.train()
    try:
        for step in range(steps):
            loss = sum(planted(**collate([s[i] for i in next(d)], pad_id, device)).loss
                       for s, d in zip(sets, draws))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"plant_facts: loss {loss.item()} at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for h in handles:
            h.remove()
        for p, f in zip(planted.parameters(), flags):
            p.requires_grad_(f)
        planted.eval()
    _check_only_neurons_changed(planted, before, owned)
    return planted


def _check_only_neurons_changed(model, before: dict[str, torch.Tensor], owned) -> None:
    masks = {id(p): m for p, m in owned}
    for name, p in model.named_parameters():
        keep = ~masks[id(p)] if id(p) in masks else torch.ones_like(p, dtype=torch.bool)
        if not torch.equal(p.detach()[keep], before[name][keep]):
            raise RuntimeError(f"plant_facts: {name} changed outside the chosen neurons")


def fact_recall(model, tokenizer, examples, batch_size: int = 64, device: str = "cpu") -> float:
    """Share of examples answered right under teacher forcing (the gold answer is the greedy
    argmax at every answer position)."""
    if not examples:
        raise ValueError("fact_recall: no examples")
    correct = teacher_forced_correct(model, examples, tokenizer.pad_token_id, batch_size, device)
    return sum(correct) / len(correct)


# --- recovery ------------------------------------------------------------------------------

def _planted_mask(frame: pd.DataFrame, planted: dict[int, list[int]]) -> np.ndarray:
    pairs = {(int(layer), int(f)) for layer, idx in planted.items() for f in idx}
    present = set(zip(frame.layer.astype(int), frame.neuron.astype(int)))
    missing = sorted(pairs - present)
    if missing:
        raise ValueError(f"planted neurons {missing[:5]} are not in the ranking")
    return np.array([(int(a), int(b)) in pairs for a, b in zip(frame.layer, frame.neuron)])


def recovery(ranking: pd.DataFrame, planted: dict[int, list[int]], score: str = "score") -> dict:
    """How well `ranking` (rows layer, neuron, `score`; higher = more concept-specific) finds the
    planted neurons: precision_at_k (share of planted neurons among the k highest-scored, k = the
    number planted; ties broken by (layer, neuron) as in rank_neurons), auc (ROC AUC of `score`,
    planted vs the rest; ties count half), k, n_neurons, and a random ranking's expected values
    random_precision = k / n_neurons and random_auc = 0.5. ValueError where AUC is undefined
    (no neuron, or every neuron, planted) or a planted neuron is not ranked."""
    from sklearn.metrics import roc_auc_score  # ~0.5 s to import; only this function needs it

    if score not in ranking:
        raise ValueError(f"recovery: the ranking has no column {score!r}")
    values = ranking[score].astype(float)
    if not np.isfinite(values).all():
        raise ValueError(f"recovery: non-finite values in {score!r}")
    is_planted = _planted_mask(ranking, planted)
    k, n = int(is_planted.sum()), len(ranking)
    if k == 0 or k == n:
        raise ValueError(f"recovery: {k} of {n} neurons planted; AUC needs both classes")
    order = np.lexsort((ranking.neuron.to_numpy(), ranking.layer.to_numpy(), -values.to_numpy()))
    return {"precision_at_k": float(is_planted[order[:k]].mean()),
            "auc": float(roc_auc_score(is_planted, values)), "k": k, "n_neurons": n,
            "random_precision": k / n, "random_auc": 0.5}


def random_ranking(scores: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The random control: rows (layer, neuron, score, rank, layer_rank) like rank_neurons'
    output, with a seeded uniform random `score` (rank 1 = highest)."""
    if len(scores) == 0:
        raise ValueError("random_ranking: no neurons")
    out = scores[["layer", "neuron"]].copy()
    out["score"] = np.random.default_rng(seed).random(len(out))
    out = out.sort_values(["score", "layer", "neuron"], ascending=[False, True, True])
    out["rank"] = np.arange(1, len(out) + 1)
    out["layer_rank"] = out.groupby("layer").cumcount() + 1
    return out.reset_index(drop=True)


def contrast_table(model, tokenizer, forget_questions: list[str], retain_questions: list[str],
                   batch_size: int = 64, device: str = "cpu") -> pd.DataFrame:
    """The `contrast` score's table (layer, neuron, contrast_z, ...) for these questions, by the
    project's own path: a pooled activation dump (in a temporary folder) read by
    `probing.contrastive_difference` (forget minus retain mean activation, pooled-sd units)."""
    prompts = pd.DataFrame({"question": list(forget_questions) + list(retain_questions),
                            "role": ["forget"] * len(forget_questions)
                            + ["retain"] * len(retain_questions), "split": "train"})
    prompts.insert(0, "prompt_id", np.arange(len(prompts)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activations.parquet"
        dump_activations(model, tokenizer, prompts, path, "float32", {"analysis": "localization"},
                         batch_size, device)
        return contrastive_difference(path, prompts)


def localization_table(model, tokenizer, planted_facts: pd.DataFrame, retain_facts: pd.DataFrame,
                       planted: dict[int, list[int]], score_names: list[str] | tuple = SCORES,
                       contrast: bool = True, normalise_how: str = "per_layer",
                       combine: str = "rank_average", weights: dict[str, float] | None = None,
                       batch_size: int = 32, seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """One row per ranking of the PLANTED `model`'s neurons, scored by `recovery` against
    `planted`: each of `score_names` alone (`contrast` from activations on the planted vs the
    retain questions), all of them combined by `combine` (row named after it; only with two or
    more scores), and `random`. Scores come from `neuron_scores` with forget = the planted facts
    and retain = `retain_facts` (both frames with question, answer). Columns: ranking,
    precision_at_k, auc, k, n_neurons, random_precision, random_auc."""
    names = list(score_names)
    unknown = [n for n in names if n not in SCORES]
    if not names or unknown:
        raise ValueError(f"localization_table: unknown or empty scores {unknown or names}; "
                         f"choose from {SCORES}")
    scores, _ = neuron_scores(model, fact_examples(tokenizer, planted_facts),
                              fact_examples(tokenizer, retain_facts), tokenizer.pad_token_id,
                              batch_size, device)
    table = (contrast_table(model, tokenizer, list(planted_facts.question),
                            list(retain_facts.question), batch_size, device)
             if "contrast" in names else None)
    rankings = {n: rank_neurons(scores, n, contrast, normalise_how, combine, weights, table)
                for n in names}
    if len(names) > 1:
        rankings[combine] = rank_neurons(scores, names, contrast, normalise_how, combine, weights,
                                         table)
    rankings["random"] = random_ranking(scores, seed)
    return pd.DataFrame([{"ranking": name, **recovery(r, planted)} for name, r in rankings.items()])


# --- deletion ------------------------------------------------------------------------------

@contextmanager
def ablate(model, neurons: dict[int, list[int]]):
    """Zero the chosen MLP neurons (input columns of `layers.l.mlp.down_proj`) in every forward
    pass inside the block: a forward pre-hook returns the input with those columns set to 0 (a
    new tensor; the model's own is not modified). Hooks are always removed on exit. A hook
    registered later (e.g. hooks.capture) sees the zeroed input."""
    _check_neurons(model, neurons)
    blocks, handles = decoder_layers(model), []

    def zero(idx: torch.Tensor):
        def hook(module, args):
            x = args[0]
            return (x.index_fill(-1, idx.to(x.device), 0.0), *args[1:])
        return hook

    try:
        for layer, idx in sorted(neurons.items()):
            if idx:
                index = torch.as_tensor(sorted(set(map(int, idx))), dtype=torch.long)
                handles.append(blocks[int(layer)].mlp.down_proj.register_forward_pre_hook(zero(index)))
        yield model
    finally:
        for h in handles:
            h.remove()


def log_sizes(n_total: int, points: int) -> list[int]:
    """0 (nothing ablated) and `points` sizes log-spaced from 1 to n_total, rounded; duplicates
    from rounding are dropped, so at most points + 1 sizes, always including 0, 1 and n_total."""
    if n_total < 1 or points < 2:
        raise ValueError(f"log_sizes: n_total={n_total} must be >= 1 and points={points} >= 2")
    sizes = np.unique(np.rint(np.geomspace(1, n_total, points)).astype(int))
    return [0] + [int(s) for s in sizes]


def _as_neurons(frame: pd.DataFrame) -> dict[int, list[int]]:
    return {int(layer): sorted(g.neuron.astype(int).tolist()) for layer, g in frame.groupby("layer")}


def deletion_curve(model, tokenizer, ranking: pd.DataFrame, forget_facts: pd.DataFrame,
                   retain_facts: pd.DataFrame, sizes: list[int], seed: int, batch_size: int = 64,
                   device: str = "cpu") -> pd.DataFrame:
    """Rows (ablated, m, forget_recall, retain_recall, n_forget, n_retain): teacher-forced recall
    of the forget and retain facts (frames with question, answer) with m neurons zeroed, for
    `ablated` = "ranked" (the m neurons of lowest `rank` in `ranking`, across all layers) and
    "random" (the first m of one seeded permutation of the ranking's neurons, so the random sets
    are nested like the ranked ones). m = 0 is the unablated model, the same for both."""
    if not sizes:
        raise ValueError("deletion_curve: no sizes")
    n = len(ranking)
    bad = [m for m in sizes if not 0 <= int(m) <= n]
    if bad:
        raise ValueError(f"deletion_curve: sizes {bad} outside 0..{n} (neurons ranked)")
    if "rank" not in ranking:
        raise ValueError("deletion_curve: the ranking has no rank column")
    forget, retain = fact_examples(tokenizer, forget_facts), fact_examples(tokenizer, retain_facts)
    ranked = ranking.sort_values("rank")[["layer", "neuron"]].reset_index(drop=True)
    shuffled = ranked.iloc[np.random.default_rng(seed).permutation(n)].reset_index(drop=True)
    cache: dict[frozenset, tuple[float, float]] = {}
    rows = []
    for m in sorted({int(m) for m in sizes}):
        for kind, order in (("ranked", ranked), ("random", shuffled)):
            chosen = _as_neurons(order.iloc[:m])
            key = frozenset((layer, f) for layer, idx in chosen.items() for f in idx)
            if key not in cache:
                with ablate(model, chosen):
                    cache[key] = (fact_recall(model, tokenizer, forget, batch_size, device),
                                  fact_recall(model, tokenizer, retain, batch_size, device))
            rows.append({"ablated": kind, "m": m, "forget_recall": cache[key][0],
                         "retain_recall": cache[key][1], "n_forget": len(forget),
                         "n_retain": len(retain)})
    return pd.DataFrame(rows)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def deletion_auc(curve: pd.DataFrame) -> pd.DataFrame:
    """Per `ablated` kind: forget_auc and retain_auc, the area under recall against
    x = log(m + 1) / log(m_max + 1) (trapezoid; x runs from 0 at m = 0 to 1 at the largest m),
    so each lies in [0, 1]: 1 = recall stays at 1 however many neurons are zeroed, lower = it
    falls sooner (log x, so the first few neurons weigh as much as the last many). A ranking that
    localizes the forget concept has a ranked forget_auc below its ranked retain_auc and below
    the random forget_auc. Also max_m and points. The curve of each kind needs m = 0 and at least
    one m > 0, and all kinds the same sizes (ValueError otherwise)."""
    rows, sizes = [], None
    for kind, g in curve.groupby("ablated", sort=False):
        g = g.sort_values("m")
        m = g.m.to_numpy(dtype=float)
        if m[0] != 0 or m[-1] <= 0 or len(set(m)) != len(m):
            raise ValueError(f"deletion_auc: {kind!r} needs distinct sizes from m = 0 to some m > 0")
        if sizes is not None and not np.array_equal(m, sizes):
            raise ValueError("deletion_auc: the ablated kinds have different sizes")
        sizes = m
        x = np.log1p(m) / math.log1p(m[-1])
        rows.append({"ablated": kind,
                     "forget_auc": _trapezoid(g.forget_recall.to_numpy(dtype=float), x),
                     "retain_auc": _trapezoid(g.retain_recall.to_numpy(dtype=float), x),
                     "max_m": int(m[-1]), "points": len(m)})
    if not rows:
        raise ValueError("deletion_auc: empty curve")
    return pd.DataFrame(rows)


# --- the study's job -----------------------------------------------------------------------

def study_facts(prompts: pd.DataFrame, films: int, retain_prompts: int, seed: int
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(planted, retain, keep, forget) question/answer frames for the localize job: the facts of
    `films` fictitious films; two disjoint seeded samples of `retain_prompts` retain fact
    questions (train templates) the model knows, one the rankings' retain side and the deletion
    curve's retain recall, the other kept while planting; the forget films' fact questions."""
    facts = prompts[(prompts.split == "train") & (prompts.intent != "recommend")]
    pool = facts[facts.role == "retain"]
    if len(pool) < 2 * retain_prompts:
        raise ValueError(f"localize.retain_prompts={retain_prompts}: only {len(pool)} retain "
                         "fact questions, fewer than the two samples need")
    pool = pool.sample(n=2 * retain_prompts, random_state=seed)
    forget = facts[facts.role == "forget"]
    if forget.empty:
        raise ValueError("localize: no forget fact the model knows")
    return (fictitious_facts(films, seed), pool.iloc[:retain_prompts],
            pool.iloc[retain_prompts:], forget)


def planted_table(model, planted_model, tokenizer, planted: pd.DataFrame, retain: pd.DataFrame,
                  neurons: dict[int, list[int]], ranking: dict, seed: int, device: str = "cpu"
                  ) -> pd.DataFrame:
    """`localization_table` on the planted model for every score (`SCORES`) and their
    combination, with the study's normalisation and combination (`ranking`), with and without
    the retain contrast of saliency and Fisher when the study uses it (column `contrast`); plus
    the teacher-forced recall of the planted facts and of the retain questions before and after
    planting (planted_recall_before/after, retain_recall_before/after): what was planted and
    what it cost."""
    rows = []
    for contrast in ([True, False] if ranking["contrast"] else [False]):
        t = localization_table(planted_model, tokenizer, planted, retain, neurons, SCORES,
                               contrast, ranking["normalise"], ranking["combine"],
                               ranking.get("weights"), seed=seed, device=device)
        rows.append(t.assign(contrast=contrast))
    out = pd.concat(rows, ignore_index=True)
    p, r = fact_examples(tokenizer, planted), fact_examples(tokenizer, retain)
    return out.assign(planted_recall_before=fact_recall(model, tokenizer, p, device=device),
                      planted_recall_after=fact_recall(planted_model, tokenizer, p, device=device),
                      retain_recall_before=fact_recall(model, tokenizer, r, device=device),
                      retain_recall_after=fact_recall(planted_model, tokenizer, r, device=device))


def localize_study(model, tokenizer, prompts: pd.DataFrame, ranking: pd.DataFrame, cfg: dict,
                   ranking_cfg: dict, seed: int, device: str = "cpu") -> dict[str, pd.DataFrame]:
    """The localize job's tables: `planted` (`planted_table`), `planted_neurons` (layer,
    neuron) and `deletion` (`deletion_curve` of the study's `ranking` on the real forget films,
    at `log_sizes`). `cfg`: the localize settings; `ranking_cfg`: the study's ranking settings."""
    planted, retain, keep, forget = study_facts(prompts, cfg["films"], cfg["retain_prompts"], seed)
    neurons = choose_planted(len(decoder_layers(model)), model.config.intermediate_size,
                             cfg["layers"], cfg["neurons_per_layer"], seed)
    planted_model = plant_facts(model, fact_examples(tokenizer, planted), neurons, cfg["steps"],
                                cfg["learning_rate"], cfg["batch_size"], seed, device,
                                keep_examples=fact_examples(tokenizer, keep))
    table = planted_table(model, planted_model, tokenizer, planted, retain, neurons, ranking_cfg,
                          seed, device)
    curve = deletion_curve(model, tokenizer, ranking, forget, retain,
                           log_sizes(len(ranking), cfg["deletion_points"]), seed, device=device)
    cells = [(layer, n) for layer, idx in sorted(neurons.items()) for n in idx]
    return {"planted": table, "deletion": curve,
            "planted_neurons": pd.DataFrame(cells, columns=["layer", "neuron"])}
