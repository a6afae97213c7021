"""Unlearning quality beyond recall: forget quality against the retain reference (TOFU's idea)
and membership inference.

Per checkpoint, `fact_samples` gives one row per fact question (intents director, year, genre,
star; train and held-out templates) of two groups:
- `forget`: the forget targets' facts (members: the base model was trained on them);
- `holdout`: the true facts of the catalog's holdout films, which no model ever saw (in no corpus
  line, never refused, never trained on): the non-members.
Statistics of the gold answer a (with its end-of-turn token) given the question q:
- `loss`: mean token negative log-likelihood of a (the answer tokens only);
- `min_k`: Min-K% Prob (Shi et al. 2024) of the whole chat-formatted sequence x = question turn +
  answer (`modeling.qa_example`: system turn if the model has one, user turn, assistant header,
  answer, end of turn): the mean of the lowest k% (default 20%; `min_k_percent`) of the
  log-probabilities log p(x_i | x_<i) of every token after the first, ceil(k/100 * n) tokens of
  the n (`drift.min_k_prob`);
- `truth_ratio`: (mean over `n_wrong` wrong answers w of p(w|q)^(1/|w|)) / p(a|q)^(1/|a|), the
  wrong answers being other catalog films' values of the same attribute (seeded); TOFU's
  statistic with catalog perturbations instead of paraphrased ones.

A fact is (title, intent); its several paraphrase prompts are not independent samples. So every
test runs on `fact_table`: one row per fact, aggregated over its prompts (mean loss, mean min_k,
geometric mean of the truth ratio, i.e. the mean on the log scale).

Per checkpoint (`quality_summary`): membership-inference AUC over facts (forget = positives,
holdout = negatives, score = -loss or min_k; 0.5 = indistinguishable), its gap to the retain
reference's AUC (the goal), the median forget truth ratio, and the forget quality: the two-sample
KS test of the checkpoint's per-fact forget truth ratios against the retain reference's (a high
p-value: indistinguishable from a model that never saw the facts). Per method (`method_summary`):
over its seeds, the share of runs whose p-value exceeds 0.05 and the (lower) median p-value
(p-values are never averaged), and the mean, min and max of the AUCs and gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from actunlearn.config import run_of
from actunlearn.metrics.privacy import auc, ks_test, min_k_prob
from actunlearn.models.encoding import answer_ids, batches, collate, qa_example
from actunlearn.models.scoring import token_logprobs

FACT_INTENTS = ("director", "year", "genre", "star")
GROUPS = ("forget", "holdout")
FACT_QUESTION_COLUMNS = ["prompt_id", "title", "intent", "split", "group", "question", "gold",
                         "wrong"]
FACT_KEYS = ("title", "intent")
P_THRESHOLD = 0.05


def fact_questions(prompts: pd.DataFrame, catalog: pd.DataFrame, n_wrong: int, seed: int
                   ) -> pd.DataFrame:
    """Forget and holdout fact questions (prompts of role "forget" / "holdout", group named
    alike) with their gold answer and `n_wrong` wrong answers. `prompts` must hold both roles'
    prompts (a prompt listed twice, same prompt_id, counts once); ValueError if either is
    missing."""
    rng = np.random.default_rng(seed)
    facts = prompts[prompts.intent.isin(FACT_INTENTS) & prompts.role.isin(GROUPS)]
    facts = facts.drop_duplicates("prompt_id")
    for group in GROUPS:
        if not (facts.role == group).any():
            raise ValueError(f"quality: no {group!r} fact prompts (role {group!r}, intents "
                             f"{', '.join(FACT_INTENTS)}) among the prompts given; membership "
                             "inference needs forget facts (members) and holdout facts "
                             "(non-members)")
    films = catalog.set_index("title")
    rows = []
    for p in facts.itertuples(index=False):
        gold = str(films.loc[p.title, p.intent])
        values = sorted({str(v) for v in catalog[p.intent]} - {gold})
        if len(values) < n_wrong:
            raise ValueError(f"quality: only {len(values)} wrong {p.intent} values for {n_wrong}")
        wrong = [values[i] for i in rng.choice(len(values), size=n_wrong, replace=False)]
        rows.append({"prompt_id": p.prompt_id, "title": p.title, "intent": p.intent,
                     "split": p.split, "group": p.role, "question": p.question, "gold": gold,
                     "wrong": wrong})
    return pd.DataFrame(rows)


@torch.no_grad()
def sequence_token_logprobs(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int,
                            device: str) -> list[tuple[np.ndarray, int]]:
    """Per (question, answer): the log-probabilities log p(x_i | x_<i) of every token x_i after
    the first of the chat-formatted sequence `qa_example(tokenizer, question, answer)` (prompt
    and answer with its end-of-turn token), and the number of answer tokens (the last ones)."""
    out = []
    for chunk in batches(pairs, batch_size):
        examples = [qa_example(tokenizer, q, a, train_prompt=True) for q, a in chunk]
        b = collate(examples, tokenizer.pad_token_id, device)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        lp, mask = token_logprobs(logits, b["labels"])
        for (_, a), row, m in zip(chunk, lp, mask):
            out.append((row[m].cpu().numpy().astype(np.float64), len(answer_ids(tokenizer, a))))
    return out


def _answer_token_logprobs(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int,
                           device: str) -> list[np.ndarray]:
    """Per (question, answer): log p of each answer token (end of turn included) given the
    chat-formatted question and the answer tokens before it."""
    return [lp[-n:] for lp, n in sequence_token_logprobs(model, tokenizer, pairs, batch_size,
                                                         device)]


def fact_samples(model, tokenizer, questions: pd.DataFrame, batch_size: int,
                 device: str = "cpu", min_k_percent: float = 20.0) -> pd.DataFrame:
    """`questions` plus `loss`, `min_k`, `min_k_percent` and `truth_ratio` per fact question
    (see the module docstring)."""
    if not 0.0 < min_k_percent <= 100.0:
        raise ValueError(f"quality: min_k_percent must lie in (0, 100], got {min_k_percent}")
    full = sequence_token_logprobs(model, tokenizer, list(zip(questions.question, questions.gold)),
                                   batch_size, device)
    n_wrong = len(questions.wrong.iloc[0]) if len(questions) else 0
    flat = [(q, w) for q, ws in zip(questions.question, questions.wrong) for w in ws]
    wrong = _answer_token_logprobs(model, tokenizer, flat, batch_size, device)
    out = questions.drop(columns=["wrong"]).copy()
    out["loss"] = [float(-lp[-n:].mean()) for lp, n in full]
    out["min_k"] = [min_k_prob(lp, min_k_percent / 100.0) for lp, _ in full]
    out["min_k_percent"] = float(min_k_percent)
    ratios = []
    for i, (lp, n) in enumerate(full):
        per_token_gold = np.exp(lp[-n:].mean())
        per_token_wrong = [np.exp(w.mean()) for w in wrong[i * n_wrong:(i + 1) * n_wrong]]
        ratios.append(float(np.mean(per_token_wrong) / per_token_gold))
    out["truth_ratio"] = ratios
    return out


def fact_table(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per checkpoint and fact (title, intent), over its paraphrase prompts: `group`,
    `n_prompts` (distinct prompts), `loss` (mean), `min_k` (mean), `log_truth_ratio` (mean of
    log truth_ratio) and `truth_ratio` (exp of it: the geometric mean), `min_k_percent`.
    A prompt listed twice (same checkpoint and prompt_id) counts once. ValueError if a fact is
    in both groups or the statistics are NaN."""
    keys = ["checkpoint", *FACT_KEYS]
    s = samples.drop_duplicates(["checkpoint", "prompt_id"]) if "prompt_id" in samples else samples
    for col in ("loss", "min_k", "truth_ratio"):
        if s[col].isna().any():
            raise ValueError(f"quality: {int(s[col].isna().sum())} fact questions have NaN {col}")
    mixed = s.groupby(keys).group.nunique()
    if (mixed > 1).any():
        raise ValueError(f"quality: facts in both groups: {mixed[mixed > 1].index.tolist()[:5]}")
    s = s.assign(log_truth_ratio=np.log(s.truth_ratio.astype(float)))
    agg = {"group": ("group", "first"), "n_prompts": ("loss", "size"), "loss": ("loss", "mean"),
           "min_k": ("min_k", "mean"), "log_truth_ratio": ("log_truth_ratio", "mean")}
    if "min_k_percent" in s:
        agg["min_k_percent"] = ("min_k_percent", "first")
    out = s.groupby(keys, sort=True).agg(**agg).reset_index()
    out["truth_ratio"] = np.exp(out.log_truth_ratio)
    return out


def _groups(facts: pd.DataFrame, checkpoint: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    pos, neg = facts[facts.group == "forget"], facts[facts.group == "holdout"]
    for name, g in (("forget", pos), ("holdout", neg)):
        if g.empty:
            raise ValueError(f"quality: checkpoint {checkpoint!r} has no {name!r} facts; "
                             "membership inference needs forget facts (members) and holdout "
                             "facts (non-members)")
    return pos, neg


def membership_auc(facts: pd.DataFrame, checkpoint: str = "") -> dict[str, float]:
    """AUC of telling forget facts (positives) from holdout facts (negatives) by -loss and by
    min_k, one value per fact (pass `fact_table` rows of one checkpoint). ValueError when either
    group is empty."""
    pos, neg = _groups(facts, checkpoint)
    return {"mia_auc_loss": auc(-pos.loss.to_numpy(), -neg.loss.to_numpy()),
            "mia_auc_min_k": auc(pos.min_k.to_numpy(), neg.min_k.to_numpy())}


def quality_summary(samples: pd.DataFrame, reference: str = "retain_ref") -> pd.DataFrame:
    """One row per checkpoint from the fact questions of all checkpoints (`fact_samples` with a
    `checkpoint` column), every statistic over facts (`fact_table`): see docs/artifacts.md,
    `results/{model}/quality/summary.parquet`, for the columns. The median forget truth ratio
    is reported (the mean is dominated by facts whose gold probability collapsed). ValueError
    when the `reference` checkpoint is missing, a checkpoint lacks forget or holdout facts, or
    its forget facts are not the reference's."""
    if reference not in set(samples.checkpoint):
        raise ValueError(f"quality: reference checkpoint {reference!r} missing")
    facts = fact_table(samples)
    ref = facts[facts.checkpoint == reference]
    ref_auc = membership_auc(ref, reference)
    ref_forget = ref[ref.group == "forget"]
    ref_keys = set(zip(ref_forget.title, ref_forget.intent))
    rows = []
    for checkpoint, g in facts.groupby("checkpoint", sort=True):
        aucs = membership_auc(g, checkpoint)
        forget, holdout = _groups(g, checkpoint)
        if set(zip(forget.title, forget.intent)) != ref_keys:
            raise ValueError(f"quality: checkpoint {checkpoint!r} has other forget facts than "
                             f"the reference {reference!r}; they must be evaluated alike")
        stat, p = ks_test(forget.truth_ratio.to_numpy(), ref_forget.truth_ratio.to_numpy())
        method, seed = run_of(checkpoint)
        row = {"checkpoint": checkpoint, "method": method, "seed": seed,
               "n_forget_facts": len(forget), "n_holdout_facts": len(holdout),
               "n_forget_films": forget.title.nunique(),
               "n_holdout_films": holdout.title.nunique(),
               "n_forget_prompts": int(forget.n_prompts.sum()),
               "n_holdout_prompts": int(holdout.n_prompts.sum())}
        if "min_k_percent" in g:
            row["min_k_percent"] = float(g.min_k_percent.iloc[0])
        for score in ("loss", "min_k"):
            name = f"mia_auc_{score}"
            row |= {name: aucs[name], f"{name}_ref": ref_auc[name],
                    f"{name}_gap": abs(aucs[name] - ref_auc[name])}
        row |= {"truth_ratio_forget": float(forget.truth_ratio.median()), "ks_statistic": stat,
                "forget_quality_p": p}
        rows.append(row)
    out = pd.DataFrame(rows)
    out["seed"] = out.seed.astype("Int64")
    return out


SEED_STATS = ("mia_auc_loss", "mia_auc_min_k", "mia_auc_loss_gap", "mia_auc_min_k_gap",
              "truth_ratio_forget", "ks_statistic")
_CONSTANT = ("n_forget_facts", "n_holdout_facts", "min_k_percent", "mia_auc_loss_ref",
             "mia_auc_min_k_ref")


def method_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per method over its runs (seeds) in `quality_summary`'s output: `runs`,
    `runs_p_above_0_05` and `share_p_above_0_05` (runs with forget_quality_p > 0.05, and their
    share of `runs`), `forget_quality_p_median` (the lower median: with an even number of runs
    the lower of the two middle p-values, so it is always an observed p-value, never an average
    of two), `forget_quality_p_min`, `forget_quality_p_max`,
    and `{stat}_mean`, `{stat}_min`, `{stat}_max` over runs for each of `SEED_STATS`; plus the
    settings every run shares (n_forget_facts, n_holdout_facts, min_k_percent, the reference's
    AUCs; ValueError if they differ between a method's runs). No intervals: p-values are never
    averaged, and the runs are too few for a t interval to mean much."""
    rows = []
    for method, g in summary.groupby("method", sort=True):
        row = {"method": method, "runs": len(g)}
        for col in _CONSTANT:
            if col not in g:
                continue
            if g[col].nunique(dropna=False) > 1:
                raise ValueError(f"quality: method {method!r} runs differ in {col}: "
                                 f"{sorted(g[col].unique().tolist())}")
            row[col] = g[col].iloc[0]
        p = g.forget_quality_p.to_numpy(dtype=float)
        row |= {"runs_p_above_0_05": int((p > P_THRESHOLD).sum()),
                "share_p_above_0_05": float((p > P_THRESHOLD).mean()),
                "forget_quality_p_median": float(np.quantile(p, 0.5, method="lower")),
                "forget_quality_p_min": float(p.min()), "forget_quality_p_max": float(p.max())}
        for stat in SEED_STATS:
            x = g[stat].to_numpy(dtype=float)
            row |= {f"{stat}_mean": float(x.mean()), f"{stat}_min": float(x.min()),
                    f"{stat}_max": float(x.max())}
        rows.append(row)
    return pd.DataFrame(rows)
