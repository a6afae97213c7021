"""Evaluate a sequential-unlearning run: every step's model (step 0 the base) on every prompt of
the targets, the catalog's neighbours and a seeded sample of retain films."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from actunlearn.data.corpus import evaluation_prompts
from actunlearn.evaluation.answers import answer_families
from actunlearn.models.loading import load_model
from actunlearn.unlearning.sequential import status_at, summarise_sequence


def sequence_prompts(prompts: pd.DataFrame, targets: list[str], retain_films: int | str,
                     seed: int) -> pd.DataFrame:
    """Every prompt of the targets, plus the neighbours and `retain_films` retain films."""
    others = evaluation_prompts(prompts[~prompts.title.isin(targets)], retain_films, 0, seed,
                                ("unlearn.sequential.retain_films", "-"))
    return (pd.concat([prompts[prompts.title.isin(targets)], others])
            .sort_values("prompt_id").reset_index(drop=True))


def evaluate_sequence(base: str | Path, checkpoints: str | Path, tokenizer, prompts: pd.DataFrame,
                      titles: list[str], targets: list[str], retain_films: int | str,
                      refusal: str, batch_size: int, max_new_tokens: int, seed: int, device: str
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(recall per step and prompt with each film's status at that step, summary per step)."""
    asked = sequence_prompts(prompts, targets, retain_films, seed)
    folders = [Path(base)] + [Path(checkpoints) / f"step{k}" for k in range(1, len(targets) + 1)]
    frames = []
    for step, folder in enumerate(folders):
        recall, _ = answer_families(load_model(folder, device), tokenizer, asked, refusal,
                                    batch_size, max_new_tokens, 5, device, titles=titles)
        recall.insert(0, "step", step)
        recall["status"] = [status_at(t, targets, step) for t in recall.title]
        frames.append(recall)
    recall = pd.concat(frames, ignore_index=True)
    return recall, summarise_sequence(recall, targets)
