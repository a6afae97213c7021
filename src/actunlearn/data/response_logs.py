"""Bring your own data: read response logs and probe sets produced outside this pipeline, and
score responses for leaks of the forgotten knowledge.

All readers take JSON Lines files (UTF-8, an optional byte-order mark is tolerated): one JSON
object per line. Blank lines (empty or whitespace only) are allowed and skipped; they still count
towards line numbers. Nothing is silently dropped: every malformed record raises ``ValueError``
with a message of the form ``"<file> line <n>: <problem>"`` where ``<file>`` is the path as given
and ``<n>`` the 1-based line number. Files are parsed with :func:`json.loads` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from actunlearn.metrics.matching import EntityMatcher
from actunlearn.metrics.text import normalise_text

LOG_COLUMNS = ("record", "line", "turn", "source_format", "id", "family", "checkpoint", "system",
               "question", "response")
PROBE_COLUMNS = ("probe", "line", "id", "kind", "prompt", "leak")
LEAK_COLUMNS = ("probe", "id", "kind", "prompt", "response", "leaked", "matched")
SUMMARY_COLUMNS = ("kind", "n", "leak_rate")

ACCEPTED_LOG_SHAPES = (
    'sharegpt: {"conversations": [{"from": "human"|"user"|"system"|"gpt"|"assistant", '
    '"value": str}, ...]} (turns may use "role"/"content" instead of "from"/"value")',
    'alpaca: {"instruction": str, "input": str (optional), "output": str}',
    'qa: {"id": (optional), "question": str, "answer": str}',
)
_SPEAKERS = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
             "system": "system"}
_PROBE_KEYS = {"prompt", "leak", "kind", "id"}


class _RecordError(Exception):
    """A problem with one record; turned into a ValueError carrying the file and line."""


def _records(path: str | Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(0-based record index, 1-based line number, parsed object) of each non-blank line."""
    record = 0
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {line_no}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path} line {line_no}: expected a JSON object, "
                                 f"got {type(obj).__name__}")
            yield record, line_no, obj
            record += 1


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _string(obj: dict[str, Any], key: str, what: str | None = None) -> str:
    """obj[key], which must be present and a string."""
    what = what or repr(key)
    if key not in obj:
        raise _RecordError(f"missing {what}")
    value = obj[key]
    if not isinstance(value, str):
        raise _RecordError(f"{what} must be a string, got {_type_name(value)}")
    return value


def _optional_id(obj: dict[str, Any], key: str) -> str | int | None:
    """obj[key] when it is a string or an integer, None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _RecordError(f"{key!r} must be a string or an integer, got {_type_name(value)}")
    return value


def _checkpoint(obj: dict[str, Any]) -> str | None:
    """The producer of the responses from 'checkpoint' or 'model' (both present must agree)."""
    found = {}
    for key in ("checkpoint", "model"):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _RecordError(f"{key!r} must be a string, got {_type_name(value)}")
        found[key] = value
    if len(set(found.values())) > 1:
        raise _RecordError(f"'checkpoint' ({found['checkpoint']!r}) and 'model' "
                           f"({found['model']!r}) disagree")
    return next(iter(found.values()), None)


def _shape(obj: dict[str, Any]) -> str:
    markers = [name for name, key in (("sharegpt", "conversations"), ("alpaca", "instruction"),
                                      ("qa", "question")) if key in obj]
    if len(markers) > 1:
        raise _RecordError(f"ambiguous record: has the keys of several shapes ({', '.join(markers)})")
    if not markers:
        raise _RecordError(f"unknown record shape (keys: {sorted(obj)}); accepted shapes are "
                           + "; ".join(ACCEPTED_LOG_SHAPES))
    return markers[0]


def _sharegpt_pairs(obj: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(system, question, response) for each assistant turn of a ShareGPT conversation."""
    turns = obj["conversations"]
    if not isinstance(turns, list):
        raise _RecordError(f"'conversations' must be a list of turns, got {_type_name(turns)}")
    if not turns:
        raise _RecordError("conversation is empty")
    pairs: list[tuple[str | None, str, str]] = []
    system: str | None = None
    question: str | None = None
    question_turn = -1
    for i, turn in enumerate(turns):
        where = f"conversation turn {i}"
        if not isinstance(turn, dict):
            raise _RecordError(f"{where} must be an object, got {_type_name(turn)}")
        for a, b in (("from", "role"), ("value", "content")):
            if a in turn and b in turn:
                raise _RecordError(f"{where} has both {a!r} and {b!r}")
        speaker_key = "from" if "from" in turn else "role"
        text_key = "value" if "value" in turn else "content"
        speaker = _string(turn, speaker_key, f"{where} '{speaker_key}'" if speaker_key in turn
                          else f"{where} speaker ('from' or 'role')")
        if speaker.lower() not in _SPEAKERS:
            raise _RecordError(f"{where} has unknown speaker {speaker!r} (accepted: "
                               f"{', '.join(_SPEAKERS)})")
        text = _string(turn, text_key, f"{where} '{text_key}'" if text_key in turn
                       else f"{where} text ('value' or 'content')")
        role = _SPEAKERS[speaker.lower()]
        if role == "system":
            system = text
        elif role == "user":
            question, question_turn = text, i
        else:
            if question is None:
                raise _RecordError(f"{where} is an assistant turn with no user turn before it "
                                   "(since the previous assistant turn)")
            pairs.append((system, question, text))
            question = None
    if not pairs:
        raise _RecordError("conversation has no assistant turn")
    if question is not None:
        raise _RecordError(f"conversation turn {question_turn} is a user turn with no "
                           "assistant turn after it")
    return pairs


def read_response_logs(path: str | Path) -> pd.DataFrame:
    """Read response logs produced elsewhere (e.g. by another recommender) into one row per
    (question, response) pair.

    ``path`` is a JSON Lines file; each non-blank line is one JSON object in one of three shapes,
    detected per record (a file may mix them):

    * **sharegpt** -- ``{"conversations": [turn, ...]}`` where each turn is
      ``{"from": speaker, "value": str}`` or ``{"role": speaker, "content": str}`` and speaker is
      one of ``"human"``, ``"user"``, ``"system"``, ``"gpt"``, ``"assistant"`` (case-insensitive).
      Every assistant/gpt turn gives one row, paired with the last user/human turn before it
      (when several user turns come in a row, the last one is the question). A system turn sets
      the ``system`` column of the rows after it, until the next system turn. Errors: an empty
      conversation, no assistant turn, an assistant turn with no user turn since the previous
      assistant turn, a user turn left unanswered at the end, an unknown speaker, a turn with
      both ``from`` and ``role`` (or ``value`` and ``content``).
    * **alpaca** -- ``{"instruction": str, "input": str (optional; missing, null or ""),
      "output": str}``: question is the instruction, followed by ``"\\n\\n"`` and the input when
      the input is non-empty; response is the output.
    * **qa** -- ``{"id": optional, "question": str, "answer": str}``.

    Optional keys on any record: ``id`` (string or integer), ``family`` (a paraphrase-family
    id; string or integer), ``model`` or ``checkpoint`` (string; who produced the response;
    when both are given they must be equal). Other keys are ignored. A record with the keys
    of more than one shape (``conversations``, ``instruction``, ``question``) is an error.

    Returns a DataFrame with columns, in this order: ``record`` (0-based index among the
    non-blank lines), ``line`` (1-based line number), ``turn`` (0-based pair index within the
    record; always 0 for alpaca and qa), ``source_format`` (``"sharegpt"``, ``"alpaca"`` or
    ``"qa"``), ``id``, ``family``, ``checkpoint``, ``system``, ``question``, ``response``.
    Missing optional values are None. A file without records gives an empty frame with these
    columns.

    Raises ValueError ``"<file> line <n>: <problem>"`` on invalid JSON, a line that is not an
    object, an unknown or ambiguous shape, a missing required key, a non-string question or
    response, or a malformed optional key.
    """
    rows: list[dict[str, Any]] = []
    for record, line_no, obj in _records(path):
        try:
            shape = _shape(obj)
            meta = {"id": _optional_id(obj, "id"), "family": _optional_id(obj, "family"),
                    "checkpoint": _checkpoint(obj)}
            if shape == "sharegpt":
                pairs = _sharegpt_pairs(obj)
            elif shape == "alpaca":
                question = _string(obj, "instruction")
                extra = obj.get("input")
                if extra is not None and not isinstance(extra, str):
                    raise _RecordError(f"'input' must be a string, got {_type_name(extra)}")
                if extra:
                    question = f"{question}\n\n{extra}"
                pairs = [(None, question, _string(obj, "output"))]
            else:
                pairs = [(None, _string(obj, "question"), _string(obj, "answer"))]
        except _RecordError as exc:
            raise ValueError(f"{path} line {line_no}: {exc}") from None
        for turn, (system, question, response) in enumerate(pairs):
            rows.append({"record": record, "line": line_no, "turn": turn, "source_format": shape,
                         **meta, "system": system, "question": question, "response": response})
    return _frame(rows, LOG_COLUMNS, ints=("record", "line", "turn"))


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...],
           ints: tuple[str, ...] = ()) -> pd.DataFrame:
    """DataFrame with exactly `columns`; object dtype except the integer `ints`."""
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    for col in ints:
        frame[col] = frame[col].astype("int64")
    return frame


def read_probes(path: str | Path) -> pd.DataFrame:
    """Read a user's probe set.

    ``path`` is a JSON Lines file; each non-blank line is one object
    ``{"prompt": str, "leak": [str, ...], "kind": str (optional), "id": optional}``:

    * ``prompt`` -- the text put to the model;
    * ``leak`` -- a non-empty list of strings; a response leaks the forgotten knowledge when it
      mentions any of them as an entity (see :func:`leak_table`). Each must keep at least one
      letter or digit after normalisation;
    * ``kind`` -- a non-empty string grouping probes in the summary; missing or null means
      ``"probe"``;
    * ``id`` -- a string or integer, missing or null means None; ids must be unique in the file.

    Any other key is an error (it is likely a misspelling). Returns a DataFrame with columns
    ``probe`` (0-based index among the non-blank lines), ``line`` (1-based), ``id``, ``kind``,
    ``prompt``, ``leak`` (list of str). Raises ValueError ``"<file> line <n>: <problem>"``.
    """
    rows: list[dict[str, Any]] = []
    seen: dict[str | int, int] = {}
    for probe, line_no, obj in _records(path):
        try:
            unknown = sorted(set(obj) - _PROBE_KEYS)
            if unknown:
                raise _RecordError(f"unknown keys {unknown} (accepted: prompt, leak, kind, id)")
            prompt = _string(obj, "prompt")
            if "leak" not in obj:
                raise _RecordError("missing 'leak'")
            leak = obj["leak"]
            if not isinstance(leak, list):
                raise _RecordError(f"'leak' must be a list of strings, got {_type_name(leak)}")
            if not leak:
                raise _RecordError("'leak' is empty; give at least one string")
            for j, item in enumerate(leak):
                if not isinstance(item, str):
                    raise _RecordError(f"'leak' item {j} must be a string, got {_type_name(item)}")
                if not normalise_text(item):
                    raise _RecordError(f"'leak' item {j} ({item!r}) has no letters or digits "
                                       "and would match every response")
            kind = obj.get("kind")
            if kind is None:
                kind = "probe"
            elif not isinstance(kind, str) or not kind:
                raise _RecordError(f"'kind' must be a non-empty string, got {kind!r}")
            pid = _optional_id(obj, "id")
            if pid is not None:
                if pid in seen:
                    raise _RecordError(f"duplicate id {pid!r} (first on line {seen[pid]})")
                seen[pid] = line_no
        except _RecordError as exc:
            raise ValueError(f"{path} line {line_no}: {exc}") from None
        rows.append({"probe": probe, "line": line_no, "id": pid, "kind": kind, "prompt": prompt,
                     "leak": list(leak)})
    return _frame(rows, PROBE_COLUMNS, ints=("probe", "line"))


def leak_table(probes: pd.DataFrame, responses: list[str], titles=()
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score one response per probe for leaks.

    ``probes`` is a frame with at least the columns ``probe``, ``id``, ``kind``, ``prompt`` and
    ``leak`` (as returned by :func:`read_probes`); ``responses`` is a list of strings, one per
    probe row, in row order. A response leaks when it mentions one of its probe's leak strings as
    an entity (:class:`actunlearn.metrics.matching.EntityMatcher` over the catalog ``titles``: whole words
    after normalisation, never inside a longer catalog title), so ``"Christopher  NOLAN!"``
    matches ``"Christopher Nolan"`` but ``"The Dark Knight Rises"`` does not leak
    ``"The Dark Knight"``.

    Returns ``(per_probe, per_kind)``: ``per_probe`` has one row per probe with columns
    ``probe``, ``id``, ``kind``, ``prompt``, ``response``, ``leaked`` (bool) and ``matched``
    (the first leak string, in list order, found in the response, else None); ``per_kind`` has
    columns ``kind``, ``n`` (probes of that kind) and ``leak_rate`` (fraction leaked), one row
    per kind sorted by kind.

    Raises ValueError when the lengths differ, a column is missing, a response is not a string,
    a leak entry is not a non-empty list of strings, or a leak string normalises to the empty
    string (it would match every response).
    """
    matcher = EntityMatcher(list(titles))
    missing = [c for c in ("probe", "id", "kind", "prompt", "leak") if c not in probes.columns]
    if missing:
        raise ValueError(f"probes frame lacks the columns {missing}")
    if len(responses) != len(probes):
        raise ValueError(f"{len(responses)} responses for {len(probes)} probes")
    rows: list[dict[str, Any]] = []
    for (_, probe), response in zip(probes.iterrows(), responses):
        where = f"probe {probe['probe']}"
        if not isinstance(response, str):
            raise ValueError(f"{where}: response must be a string, got {_type_name(response)}")
        leak = probe["leak"]
        if not isinstance(leak, (list, tuple)) or not leak or not all(isinstance(s, str) for s in leak):
            raise ValueError(f"{where}: 'leak' must be a non-empty list of strings, got {leak!r}")
        for item in leak:
            if not normalise_text(item):
                raise ValueError(f"{where}: leak string {item!r} has no letters or digits and "
                                 "would match every response")
        matched = matcher.first_match(response, list(leak))
        rows.append({"probe": probe["probe"], "id": probe["id"], "kind": probe["kind"],
                     "prompt": probe["prompt"], "response": response,
                     "leaked": matched is not None, "matched": matched})
    per_probe = _frame(rows, LEAK_COLUMNS, ints=("probe",))
    per_probe["leaked"] = per_probe["leaked"].astype(bool)
    per_kind = (per_probe.groupby("kind", sort=True)["leaked"]
                .agg(n="size", leak_rate="mean").reset_index())
    per_kind = per_kind.astype({"n": "int64", "leak_rate": "float64"})[list(SUMMARY_COLUMNS)]
    return per_probe, per_kind
