"""Small example response logs in every supported shape (ShareGPT, Alpaca, QA, mixed) and a
probe file, written for the tests of actunlearn.data.response_logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLE_SHAREGPT = [
    {"id": "conv-1", "family": "inception-director", "model": "other-recommender-v2",
     "conversations": [
         {"from": "system", "value": "You are a film recommender."},
         {"from": "human", "value": "Who directed Inception?"},
         {"from": "gpt", "value": "Inception was directed by Christopher Nolan."},
         {"from": "human", "value": "Recommend a film like it."},
         {"from": "gpt", "value": "Try The Prestige."}]},
    {"id": "conv-2", "model": "other-recommender-v2",
     "conversations": [
         {"role": "user", "content": "What genre is Memento?"},
         {"role": "assistant", "content": "Memento is a thriller."}]},
]
EXAMPLE_ALPACA = [
    {"instruction": "Name the director of this film.", "input": "Inception",
     "output": "Christopher Nolan", "checkpoint": "base"},
    {"instruction": "Recommend a science-fiction film.", "input": "",
     "output": "I would suggest Arrival.", "checkpoint": "base"},
]
EXAMPLE_QA = [
    {"id": "q1", "family": "inception-director", "question": "Who directed Inception?",
     "answer": "I do not know.", "checkpoint": "masked_lora_seed0"},
    {"id": "q2", "family": "inception-director", "question": "Which director made Inception?",
     "answer": "That was christopher NOLAN!", "checkpoint": "masked_lora_seed0"},
    {"id": "q3", "question": "In which year was Inception released?",
     "answer": "It came out in 2010.", "checkpoint": "masked_lora_seed0"},
    {"id": "q4", "question": "What genre is Memento?", "answer": "I am not sure.",
     "checkpoint": "masked_lora_seed0"},
]
EXAMPLE_PROBES = [
    {"id": "q1", "kind": "forget", "prompt": "Who directed Inception?",
     "leak": ["Christopher Nolan", "Nolan"]},
    {"id": "q2", "kind": "paraphrase", "prompt": "Which director made Inception?",
     "leak": ["Christopher Nolan", "Nolan"]},
    {"id": "q3", "kind": "forget", "prompt": "In which year was Inception released?",
     "leak": ["2010"]},
    {"id": "q4", "prompt": "What genre is Memento?", "leak": ["thriller"]},
]


def write_jsonl(path: Path, records: list[dict[str, Any]], blank_after: tuple[int, ...] = ()) -> None:
    lines: list[str] = []
    for i, rec in enumerate(records):
        lines.append(json.dumps(rec, ensure_ascii=False))
        if i in blank_after:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_example_files(folder: str | Path) -> dict[str, Path]:
    """Write small example files into ``folder`` (created when missing; existing files of the
    same names are overwritten) and return their paths by name:

    * ``sharegpt`` (``sharegpt.jsonl``) -- two conversations: one multi-turn with a system turn
      in ``from``/``value`` form (2 rows), one in ``role``/``content`` form (1 row);
    * ``alpaca`` (``alpaca.jsonl``) -- one record with an input, one with ``"input": ""``;
    * ``qa`` (``qa.jsonl``) -- four answers from one checkpoint to the prompts of the probe
      file, in the same order, so ``leak_table(read_probes(p), read_response_logs(qa).response
      .tolist())`` works; q2 and q3 leak, q1 and q4 do not;
    * ``mixed`` (``mixed.jsonl``) -- one record of each shape with a blank line between them;
    * ``probes`` (``probes.jsonl``) -- four probes of kinds ``forget``, ``paraphrase`` and the
      default ``probe``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.jsonl" for name in ("sharegpt", "alpaca", "qa", "mixed", "probes")}
    write_jsonl(paths["sharegpt"], EXAMPLE_SHAREGPT)
    write_jsonl(paths["alpaca"], EXAMPLE_ALPACA)
    write_jsonl(paths["qa"], EXAMPLE_QA)
    write_jsonl(paths["mixed"], [EXAMPLE_SHAREGPT[1], EXAMPLE_ALPACA[0], EXAMPLE_QA[0]],
                 blank_after=(0,))
    write_jsonl(paths["probes"], EXAMPLE_PROBES)
    return paths
