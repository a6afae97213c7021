"""One tuning trial: a method with one setting of its search space and one seed, unlearned on the
validation view (validation.validation_view) with the study's own unlearning job, then scored on
the validation prompts (validation.tuning_prompts) by greedy answers and the entity matcher."""

from __future__ import annotations

import json
import time

import pandas as pd

from actunlearn.evaluation.answers import answer_prompts
from actunlearn.tuning.search import trial_frame
from actunlearn.tuning.validation import check_disjoint
from actunlearn.unlearning.methods.registry import unlearn_job

VIEW_TABLES = ("catalog", "corpus", "prompts", "known", "answers", "asked")


def score(model, tokenizer, view: dict, refusal: str, inference: dict, device: str) -> dict:
    """{role_split: recall, n_role_split: prompts} of `model` on the validation prompts."""
    scored = answer_prompts(model, tokenizer, view["asked"], refusal, inference["batch_size"],
                            inference["max_new_tokens"], device,
                            titles=view["catalog"].title.tolist())
    return trial_frame(scored)


def run_trial(model, tokenizer, view: dict, ranking: pd.DataFrame | None, method: str,
              settings: dict, values: dict, setting: int, own_answers: bool, refusal: str,
              inference: dict, seed: int, device: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one-row trial table, the run's manifest). `settings`: the method's resolved settings with
    the trial's `values` (setting number `setting` of the grid) in. Raises AssertionError if the
    run trained on anything that names a test film."""
    start = time.perf_counter()
    result, data = unlearn_job(model, tokenizer, view["known"], view["corpus"], view["prompts"],
                               view["catalog"], ranking, view["answers"] if own_answers else None,
                               method, settings, refusal, inference["max_new_tokens"], seed, device)
    check_disjoint(view["catalog"], {"manifest": data.manifest})
    trained = time.perf_counter() - start
    last = result.log[-1]
    row = {"method": method, "setting": setting, "seed": seed, "settings": json.dumps(values),
           **score(result.model, tokenizer, view, refusal, inference, device),
           "trainable_params": last.get("trainable_params"),
           "effective_params": last.get("effective_params"), "train_seconds": trained,
           "seconds": time.perf_counter() - start}
    return pd.DataFrame([row]), data.manifest.assign(method=method, setting=setting, seed=seed)
