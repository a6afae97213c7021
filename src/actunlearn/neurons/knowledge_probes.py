"""Knowledge left in the activations: linear probes and the logit lens, per layer.

A method that only suppresses the output may keep the answer decodable inside the model. Both
readouts use the residual stream after each decoder block at the last prompt position (where the
answer's first token is predicted):

- logit lens (nostalgebraist 2020): the residual stream put through the model's final norm and
  unembedding; the rank of the gold answer's first token among the vocabulary, per layer. At the
  last block it is the model's own next-token ranking (tested).
- linear probes (Alain & Bengio 2016; for unlearning, Patil et al. 2023): per layer and fact
  intent, a multinomial logistic regression (scikit-learn) from the residual stream to the
  answer among the answers of the probe's training films. `own`: trained on the checkpoint's own
  activations for the probe films (a seeded sample of non-forget films; the rest of them are a
  held-out control, `retain_test`), applied to the forget films' questions; `base`: the base
  model's probe applied to the checkpoint's activations (only meaningful for checkpoints made
  from the base model's weights, so not for the retain reference, which is trained apart). A
  forget question whose answer is not among the probe's classes cannot be decoded by it: it is
  kept with `correct` null and a note, never counted as a miss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from actunlearn.models.encoding import answer_ids, batches, collate, prompt_ids
from actunlearn.models.hooks import capture
from actunlearn.models.loading import decoder_layers

PROBE_INTENTS = ("director", "year", "genre", "star")


def _base(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@torch.no_grad()
def last_token_states(model, tokenizer, questions: list[str], batch_size: int = 64,
                      device: str = "cpu") -> np.ndarray:
    """[n, layers, hidden] float32: the residual stream after every decoder block at each
    prompt's last position (right-padded batches, so positions are the unpadded ones)."""
    if not questions:
        raise ValueError("last_token_states: no questions")
    n_layers = len(decoder_layers(model))
    out = []
    for chunk in batches([(prompt_ids(tokenizer, q), []) for q in questions], batch_size):
        b = collate(chunk, tokenizer.pad_token_id, device)
        last = b["attention_mask"].sum(1) - 1
        rows = torch.arange(len(chunk), device=last.device)
        with capture(model, resid=True, mlp=False, reduce=lambda x: x[rows, last].float()) as cap:
            model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
        out.append(torch.stack([cap.resid[i] for i in range(n_layers)], 1).cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def lens_logits(model, states: np.ndarray) -> torch.Tensor:
    """[n, layers, vocab]: each layer's residual stream through the final norm and the
    unembedding (the logit lens)."""
    base = _base(model)
    norm, head = base.model.norm, base.get_output_embeddings()
    x = torch.as_tensor(states, dtype=head.weight.dtype, device=head.weight.device)
    return head(norm(x)).float().cpu()


def lens_ranks(model, tokenizer, states: np.ndarray, answers: list[str]) -> np.ndarray:
    """[n, layers] int: rank (1 = top) of each gold answer's first token under the logit lens
    (ties counted in the answer's favour)."""
    first = torch.tensor([answer_ids(tokenizer, a)[0] for a in answers])
    logits = lens_logits(model, states)
    own = logits.gather(-1, first.view(-1, 1, 1).expand(-1, logits.shape[1], 1))
    return ((logits > own).sum(-1) + 1).numpy()


def fit_probes(states: np.ndarray, answers: list[str], intents: list[str], c: float = 1.0,
               seed: int = 0) -> dict:
    """(intent, layer) -> fitted probe (standardised features, multinomial logistic regression)
    on the rows of that intent; an intent with fewer than two answers gets no probe. BLAS runs
    on one thread: with another job on the other core, its threads slow the fit 20-fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    answers, intents = np.asarray(answers, dtype=object), np.asarray(intents, dtype=object)
    probes = {}
    with threadpool_limits(limits=1):
        for intent in sorted(set(intents)):
            rows = intents == intent
            if len(set(answers[rows])) < 2:
                continue
            for layer in range(states.shape[1]):
                probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500,
                                                                           random_state=seed))
                probes[(intent, layer)] = probe.fit(states[rows, layer], answers[rows])
    return probes


def apply_probes(probes: dict, states: np.ndarray, frame: pd.DataFrame, probe: str
                 ) -> pd.DataFrame:
    """Rows (probe, layer, role, title, intent, template_id, answer, predicted, correct, note):
    every probe of the row's intent applied to its states; `correct` null with a note where
    the answer is not one of the probe's classes or the intent has no probe."""
    columns = ["probe", "layer", "role", "title", "intent", "template_id", "answer",
               "predicted", "correct", "note"]
    layers = sorted({layer for _, layer in probes}) or list(range(states.shape[1]))
    answers = frame.answer.astype(str).to_numpy()
    parts = []
    for layer in layers:
        out = frame[["role", "title", "intent", "template_id"]].assign(
            probe=probe, layer=layer, answer=answers, predicted=None, correct=None,
            note="undefined: fewer than two answers to train on")
        for intent in sorted(set(frame.intent)):
            fitted = probes.get((intent, layer))
            if fitted is None:
                continue
            rows = (frame.intent == intent).to_numpy()
            known = rows & np.isin(answers, fitted.classes_)
            out.loc[rows & ~known, "note"] = "undefined: answer not among the probe's classes"
            if known.any():
                predicted = fitted.predict(states[known, layer]).astype(str)
                out.loc[known, "predicted"] = predicted
                out.loc[known, "correct"] = predicted == answers[known]
                out.loc[known, "note"] = None
        parts.append(out)
    return pd.concat(parts, ignore_index=True)[columns]


def probe_items(prompts: pd.DataFrame, films: int | str, test_share: float, seed: int
                ) -> pd.DataFrame:
    """The probe's questions (train templates, fact intents): every forget film's (role
    `forget`), and a seeded sample of `films` neighbour and retain films split into the probe's
    training films (`probe_train`) and held-out films (`retain_test`, the control that the
    probe decodes unseen films at all)."""
    facts = prompts[(prompts.split == "train") & prompts.intent.isin(PROBE_INTENTS)]
    others = sorted(set(facts.title[facts.role.isin(["neighbour", "retain"])]))
    rng = np.random.default_rng(seed)
    if films != "all" and films < len(others):
        others = sorted(others[i] for i in rng.choice(len(others), size=films, replace=False))
    test = set(others[i] for i in rng.choice(len(others), size=int(round(test_share * len(others))),
                                             replace=False)) if others else set()
    out = facts[facts.title.isin(set(others)) | (facts.role == "forget")].copy()
    out["role"] = np.where(out.role == "forget", "forget",
                           np.where(out.title.isin(test), "retain_test", "probe_train"))
    if (out.role == "probe_train").sum() == 0 or (out.role == "forget").sum() == 0:
        raise ValueError("audit.probe: no training films or no forget questions to probe")
    return out.sort_values(["role", "title", "intent", "template_id"]).reset_index(drop=True)


def knowledge_readouts(model, tokenizer, items: pd.DataFrame, base_probes: dict | None,
                       c: float, batch_size: int, seed: int, device: str = "cpu"
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(probe rows, logit-lens rows, this checkpoint's own probes) on `probe_items`. Probe rows
    cover the forget and retain_test questions, for the `own` probe and, when `base_probes` is
    given, the base model's; lens rows (layer, role, title, intent, template_id, gold_rank)
    every question."""
    states = last_token_states(model, tokenizer, items.question.tolist(), batch_size, device)
    train = (items.role == "probe_train").to_numpy()
    own = fit_probes(states[train], items.answer[train].astype(str).tolist(),
                     items.intent[train].tolist(), c, seed)
    asked = ~train
    frames = [apply_probes(own, states[asked], items[asked], "own")]
    if base_probes is not None:
        frames.append(apply_probes(base_probes, states[asked], items[asked], "base"))
    answers = items.answer.astype(str).tolist()
    ranks = lens_ranks(model, tokenizer, states, answers)
    unique = distinct_first_token(tokenizer, answers, items.intent.tolist())
    n, layers = ranks.shape
    lens = pd.DataFrame({"layer": np.tile(np.arange(layers), n),
                         **{c: np.repeat(items[c].to_numpy(), layers)
                            for c in ("role", "title", "intent", "template_id")},
                         "gold_rank": ranks.reshape(-1),
                         "first_token_unique": np.repeat(unique, layers)})
    return pd.concat(frames, ignore_index=True), lens, own


def distinct_first_token(tokenizer, answers: list[str], intents: list[str]) -> np.ndarray:
    """Whether each answer's first token is its own among the distinct answers of its intent
    (years mostly start with the same piece: their first token says nothing of the answer)."""
    first = [answer_ids(tokenizer, a)[0] for a in answers]
    owners: dict[tuple[str, int], set[str]] = {}
    for a, i, t in zip(answers, intents, first):
        owners.setdefault((i, t), set()).add(a)
    return np.array([len(owners[(i, t)]) == 1 for i, t in zip(intents, first)])


def readout_intervals(probes: pd.DataFrame, lens: pd.DataFrame, rng_seed: int = 0
                      ) -> pd.DataFrame:
    """Long table (method, readout, probe, layer, role, metric, estimate, low, high, n_*,
    note): probe accuracy (readout `probe`, per probe kind) over the defined rows, and the
    logit lens's top-1 share (readout `lens`: the gold answer's first token is the lens's
    argmax) over the answers whose first token is their own, each a design mean over seeds,
    films and facts with its crossed cluster-bootstrap interval in [0, 1]; the note counts
    the rows left out as undefined."""
    from actunlearn.config import run_of
    from actunlearn.metrics.intervals import design_interval

    def with_runs(frame):
        parsed = [run_of(c, single_seed=0) for c in frame.checkpoint]
        return frame.assign(method=[m for m, _ in parsed], seed=[s for _, s in parsed])

    rows = []
    if len(probes):
        frame = with_runs(probes)
        for (method, probe, layer, role), g in frame.groupby(["method", "probe", "layer", "role"],
                                                             sort=True):
            defined = g[g.correct.notna()]
            left = len(g) - len(defined)
            base = {"method": method, "readout": "probe", "probe": probe, "layer": int(layer),
                    "role": role, "metric": "accuracy"}
            if defined.empty:
                rows.append(base | {"estimate": None, "n_obs": 0,
                                    "note": f"undefined: none of {len(g)} answers is decodable "
                                            "by the probe (not among its classes)"})
                continue
            out = design_interval(defined.assign(value=defined.correct.astype(float)),
                                  value="value", seed="seed", cluster="title", unit="intent",
                                  lower=0.0, upper=1.0, rng_seed=rng_seed)
            if left:
                out["note"] = "; ".join(filter(None, [out.get("note"),
                                                      f"{left} of {len(g)} rows undefined"]))
            rows.append(base | out)
    if len(lens):
        frame = with_runs(lens[lens.first_token_unique])
        frame = frame.assign(value=(frame.gold_rank == 1).astype(float))
        for (method, layer, role), g in frame.groupby(["method", "layer", "role"], sort=True):
            rows.append({"method": method, "readout": "lens", "probe": None, "layer": int(layer),
                         "role": role, "metric": "top1",
                         **design_interval(g, value="value", seed="seed", cluster="title",
                                           unit="intent", lower=0.0, upper=1.0,
                                           rng_seed=rng_seed)})
    return pd.DataFrame(rows)
