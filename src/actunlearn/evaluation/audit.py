"""The audit of one model ("Is it really gone?"): every checkpoint under the attacks of
`evaluation.attacks` and read out by the probes and logit lens of `neurons.knowledge_probes`.
One job loads each checkpoint in turn (base first: its probes are applied to the others); the
items are built once, so every checkpoint answers the same questions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from actunlearn.data.catalog import KNOWN_ROLES
from actunlearn.evaluation.attacks import (attack_intervals, audit_questions, exposure_candidates,
                                           exposure_items, prompt_attack_items, run_attacks)
from actunlearn.neurons.knowledge_probes import knowledge_readouts, probe_items, readout_intervals

TABLES = ("answers", "exposure", "attacks", "probes", "lens", "readouts")
FROM_BASE = ("base", "retain_ref")  # checkpoints not made from the base model's weights: retain_ref


def audit_items(prompts: pd.DataFrame, all_prompts: pd.DataFrame, catalog: pd.DataFrame,
                cfg: dict, seed: int) -> dict[str, object]:
    """The audit's items, the same for every checkpoint: attack items, exposure items and
    their candidate titles, probe items."""
    questions = audit_questions(prompts, cfg["neighbour_films"], cfg["retain_films"],
                                cfg["templates"], seed)
    return {"items": prompt_attack_items(questions, catalog, cfg["prompts"], cfg["context_facts"],
                                         seed),
            "exposure": exposure_items(all_prompts, catalog, cfg["prompts"],
                                       cfg["exposure"]["prompts"], cfg["context_facts"], seed),
            "candidates": exposure_candidates(catalog, cfg["exposure"]["candidates"], seed),
            "probe": probe_items(prompts, cfg["probe"]["films"], cfg["probe"]["test_share"],
                                 seed)}


EXPOSURE_COLUMNS = ["checkpoint", "attack", "title", "template_id", "target", "target_logprob",
                    "target_rank", "n_candidates"]
PART_TABLES = ("answers", "exposure", "probes", "lens")


def audit_model(checkpoints: Iterable[tuple[str, Callable[[], object]]], tokenizer,
                items: dict, cfg: dict, catalog: pd.DataFrame, refusal: str, batch_size: int,
                max_new_tokens: int, seed: int, device: str = "cpu",
                report: Callable[[str], None] = print, base_only_probes: bool = False
                ) -> dict[str, pd.DataFrame]:
    """name -> per-item table (PART_TABLES) for `checkpoints`: (name, load) pairs, base first
    (its probes read the others). With `base_only_probes`, the base model only lends its probes
    (a part of the audit that does not report it)."""
    titles = catalog.title.tolist()  # the entity matcher's titles: a longer one always wins
    known = set(catalog.title[catalog.role.isin(KNOWN_ROLES)])
    if not set(items["candidates"]) <= known:
        raise ValueError("audit: exposure candidates must be known titles")
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in PART_TABLES}
    base_probes = None
    for i, (name, load) in enumerate(checkpoints):
        if i == 0 and name != "base":
            raise ValueError("audit: the base model comes first (its probes read the others)")
        model = load()
        probes, lens, own = knowledge_readouts(
            model, tokenizer, items["probe"], None if name in FROM_BASE else base_probes,
            cfg["probe"]["c"], batch_size, seed, device)
        if name == "base":
            base_probes = own
            if base_only_probes:
                continue
        answers, exposure = run_attacks(model, tokenizer, items["items"], items["exposure"],
                                        cfg["quantize"], items["candidates"], refusal,
                                        batch_size, max_new_tokens, device, titles)
        for key, frame in (("answers", answers), ("exposure", exposure), ("probes", probes),
                           ("lens", lens)):
            if len(frame):
                parts[key].append(frame.assign(checkpoint=name)[
                    ["checkpoint", *[c for c in frame if c != "checkpoint"]]])
        forget = answers[answers.role == "forget"].groupby("attack").correct.mean()
        report(f"{name}: forget recall by attack {forget.round(2).to_dict()}")
        del model
    tables = {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for k, v in parts.items()}
    if tables["exposure"].empty:   # no exposure items: an empty table that keeps its columns
        tables["exposure"] = pd.DataFrame(columns=EXPOSURE_COLUMNS)
    return tables


def merge_parts(parts: list[dict[str, pd.DataFrame]], seed: int) -> dict[str, pd.DataFrame]:
    """The audit's tables (TABLES) from its parts' per-item tables: stacked, plus the interval
    summaries `attacks` and `readouts`."""
    tables = {k: pd.concat([p[k] for p in parts if len(p[k])] or [parts[0][k]],
                           ignore_index=True) for k in PART_TABLES}
    tables["attacks"] = attack_intervals(tables["answers"], tables["exposure"], seed)
    tables["readouts"] = readout_intervals(tables["probes"], tables["lens"], seed)
    return tables


def split_checkpoints(checkpoints: list[str], parts: int) -> list[list[str]]:
    """The audit's parts: base and retain_ref in the first, the unlearned checkpoints (in run
    order) in `parts` contiguous runs of near-equal size, so a part starts as soon as its
    methods are unlearned; never an empty part (fewer checkpoints than parts: fewer parts)."""
    refs = [c for c in checkpoints if c in FROM_BASE]
    rest = [c for c in checkpoints if c not in FROM_BASE]
    n = max(1, min(parts, len(rest)))
    size, extra = divmod(len(rest), n)
    out, start = [], 0
    for k in range(n):
        end = start + size + (k < extra)
        out.append(rest[start:end])
        start = end
    out[0] = refs + out[0]
    return out


def checkpoint_loaders(paths, names: list[str], device: str = "cpu"
                       ) -> list[tuple[str, Callable[[], object]]]:
    """(name, load) for `audit_model`: `paths` maps base and retain_ref to model folders and an
    unlearned checkpoint's name to its folder (loaded onto the base model)."""
    from actunlearn.models.loading import load_checkpoint

    def load(name):
        if name in FROM_BASE:
            return lambda: load_checkpoint(paths[name], None, device)
        return lambda: load_checkpoint(paths["base"], paths[name], device)
    return [(name, load(name)) for name in names]
