from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from actunlearn.data.response_logs import (
    LEAK_COLUMNS,
    LOG_COLUMNS,
    PROBE_COLUMNS,
    leak_table,
    read_probes,
    read_response_logs,
)

from byo_examples import write_example_files


def _jsonl(path: Path, *lines: object) -> Path:
    """Write `lines` (dicts are JSON-encoded, strings written verbatim) one per line."""
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
                    encoding="utf-8")
    return path


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


# --- response logs: shapes -------------------------------------------------------------------

def test_sharegpt_multi_turn_with_system_turn(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", {
        "id": "c1", "family": 7, "model": "rec-v2",
        "conversations": [
            {"from": "human", "value": "hello"},
            {"from": "gpt", "value": "hi"},
            {"from": "system", "value": "be brief"},
            {"from": "human", "value": "ignored: superseded by the next user turn"},
            {"from": "human", "value": "Who directed Inception?"},
            {"from": "gpt", "value": "Nolan"},
            {"from": "human", "value": "And Memento?"},
            {"from": "gpt", "value": "Also Nolan"},
        ]})
    logs = read_response_logs(path)
    assert list(logs.columns) == list(LOG_COLUMNS)
    assert _rows(logs) == [
        {"record": 0, "line": 1, "turn": 0, "source_format": "sharegpt", "id": "c1", "family": 7,
         "checkpoint": "rec-v2", "system": None, "question": "hello", "response": "hi"},
        {"record": 0, "line": 1, "turn": 1, "source_format": "sharegpt", "id": "c1", "family": 7,
         "checkpoint": "rec-v2", "system": "be brief", "question": "Who directed Inception?",
         "response": "Nolan"},
        {"record": 0, "line": 1, "turn": 2, "source_format": "sharegpt", "id": "c1", "family": 7,
         "checkpoint": "rec-v2", "system": "be brief", "question": "And Memento?",
         "response": "Also Nolan"},
    ]


def test_sharegpt_role_content_variant_and_speaker_case(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", {"conversations": [
        {"role": "system", "content": "sys"},
        {"role": "User", "content": "q"},
        {"role": "assistant", "content": "a"}]})
    row = _rows(read_response_logs(path))
    assert row == [{"record": 0, "line": 1, "turn": 0, "source_format": "sharegpt", "id": None,
                    "family": None, "checkpoint": None, "system": "sys", "question": "q",
                    "response": "a"}]


def test_alpaca_with_and_without_input(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl",
                  {"instruction": "Name the director.", "input": "Inception", "output": "Nolan",
                   "checkpoint": "base"},
                  {"instruction": "Recommend a film.", "input": "", "output": "Arrival"},
                  {"instruction": "Recommend a thriller.", "output": "Memento"},
                  {"instruction": "Recommend a drama.", "input": None, "output": "Oppenheimer"})
    logs = read_response_logs(path)
    assert list(logs["source_format"]) == ["alpaca"] * 4
    assert list(logs["question"]) == ["Name the director.\n\nInception", "Recommend a film.",
                                      "Recommend a thriller.", "Recommend a drama."]
    assert list(logs["response"]) == ["Nolan", "Arrival", "Memento", "Oppenheimer"]
    assert list(logs["checkpoint"]) == ["base", None, None, None]
    assert list(logs["turn"]) == [0, 0, 0, 0]
    assert list(logs["record"]) == [0, 1, 2, 3]


def test_qa_with_and_without_id(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl",
                  {"id": 3, "question": "Q1", "answer": "A1", "family": "f"},
                  {"question": "Q2", "answer": "A2", "model": "m", "checkpoint": "m"})
    logs = read_response_logs(path)
    assert _rows(logs) == [
        {"record": 0, "line": 1, "turn": 0, "source_format": "qa", "id": 3, "family": "f",
         "checkpoint": None, "system": None, "question": "Q1", "response": "A1"},
        {"record": 1, "line": 2, "turn": 0, "source_format": "qa", "id": None, "family": None,
         "checkpoint": "m", "system": None, "question": "Q2", "response": "A2"},
    ]


def test_mixed_file_with_blank_lines_keeps_line_numbers(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl",
                  "",
                  {"question": "Q", "answer": "A"},
                  "   \t",
                  {"instruction": "I", "output": "O"},
                  "",
                  {"conversations": [{"from": "user", "value": "U"}, {"from": "gpt", "value": "G"}]})
    logs = read_response_logs(path)
    assert list(logs["source_format"]) == ["qa", "alpaca", "sharegpt"]
    assert list(logs["record"]) == [0, 1, 2]
    assert list(logs["line"]) == [2, 4, 6]
    assert list(logs["question"]) == ["Q", "I", "U"]


def test_empty_file_gives_empty_frame_with_columns(tmp_path):
    logs = read_response_logs(_jsonl(tmp_path / "logs.jsonl", "", ""))
    assert logs.empty and list(logs.columns) == list(LOG_COLUMNS)


# --- response logs: errors -------------------------------------------------------------------

GOOD = {"question": "Q", "answer": "A"}


@pytest.mark.parametrize("record, problem", [
    ({"conversations": [{"from": "human", "value": "only a question"}]},
     "conversation has no assistant turn"),
    ({"conversations": []}, "conversation is empty"),
    ({"conversations": "hi"}, "'conversations' must be a list"),
    ({"conversations": [{"from": "gpt", "value": "a"}]},
     "turn 0 is an assistant turn with no user turn before it"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"},
                        {"from": "gpt", "value": "b"}]},
     "turn 2 is an assistant turn with no user turn"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"},
                        {"from": "human", "value": "unanswered"}]},
     "turn 2 is a user turn with no assistant turn after it"),
    ({"conversations": [{"from": "robot", "value": "q"}]}, "unknown speaker 'robot'"),
    ({"conversations": [{"from": "human", "role": "user", "value": "q"}]},
     "has both 'from' and 'role'"),
    ({"conversations": [{"from": "human"}]}, "turn 0 text"),
    ({"conversations": [{"value": "q"}]}, "turn 0 speaker"),
    ({"conversations": [{"from": "human", "value": ["q"]}, {"from": "gpt", "value": "a"}]},
     "turn 0 'value' must be a string, got list"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "content": 5}]},
     "turn 1 'content' must be a string, got int"),
    ({"conversations": ["q"]}, "turn 0 must be an object"),
    ({"instruction": "I", "output": 3}, "'output' must be a string, got int"),
    ({"instruction": None, "output": "O"}, "'instruction' must be a string, got null"),
    ({"instruction": "I"}, "missing 'output'"),
    ({"instruction": "I", "input": 1, "output": "O"}, "'input' must be a string"),
    ({"question": "Q", "answer": None}, "'answer' must be a string, got null"),
    ({"question": 1, "answer": "A"}, "'question' must be a string, got int"),
    ({"question": "Q"}, "missing 'answer'"),
    ({"question": "Q", "answer": "A", "id": [1]}, "'id' must be a string or an integer"),
    ({"question": "Q", "answer": "A", "family": 1.5}, "'family' must be a string or an integer"),
    ({"question": "Q", "answer": "A", "model": 1}, "'model' must be a string"),
    ({"question": "Q", "answer": "A", "model": "x", "checkpoint": "y"}, "disagree"),
    ({"question": "Q", "answer": "A", "instruction": "I", "output": "O"}, "ambiguous record"),
    ({"prompt": "P", "completion": "C"}, "unknown record shape"),
])
def test_malformed_log_record_names_file_line_and_problem(tmp_path, record, problem):
    path = _jsonl(tmp_path / "logs.jsonl", GOOD, "", GOOD, GOOD, "", "", record, GOOD)
    pattern = re.escape(f"{path} line 7: ") + ".*" + re.escape(problem)
    with pytest.raises(ValueError, match=pattern):
        read_response_logs(path)


def test_unknown_shape_message_lists_accepted_shapes(tmp_path):
    path = _jsonl(tmp_path / "logs.jsonl", {"text": "x"})
    with pytest.raises(ValueError) as info:
        read_response_logs(path)
    message = str(info.value)
    assert message.startswith(f"{path} line 1: unknown record shape")
    for needle in ('"conversations"', '"from"', '"role"/"content"', '"instruction"', '"input"',
                   '"output"', '"question"', '"answer"'):
        assert needle in message


@pytest.mark.parametrize("line, problem", [
    ('{"question": "Q", "answer": ', "invalid JSON"),
    ('["question", "answer"]', "expected a JSON object, got list"),
    ('"just a string"', "expected a JSON object, got str"),
])
def test_bad_json_line_names_line(tmp_path, line, problem):
    path = _jsonl(tmp_path / "logs.jsonl", GOOD, line)
    with pytest.raises(ValueError, match=re.escape(f"{path} line 2: {problem}")):
        read_response_logs(path)


def test_error_names_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _jsonl(tmp_path / "logs.jsonl", GOOD, "",
           {"conversations": [{"from": "human", "value": "q"}]})
    with pytest.raises(ValueError, match=r"^logs\.jsonl line 3: conversation has no assistant turn$"):
        read_response_logs("logs.jsonl")


# --- probes ----------------------------------------------------------------------------------

def test_read_probes(tmp_path):
    path = _jsonl(tmp_path / "probes.jsonl",
                  {"prompt": "Who directed Inception?", "leak": ["Christopher Nolan", "Nolan"],
                   "kind": "forget", "id": "p1"},
                  "",
                  {"prompt": "Name a thriller.", "leak": ["Memento"]},
                  {"prompt": "Release year?", "leak": ["2010"], "kind": None, "id": 9})
    probes = read_probes(path)
    assert list(probes.columns) == list(PROBE_COLUMNS)
    assert _rows(probes) == [
        {"probe": 0, "line": 1, "id": "p1", "kind": "forget", "prompt": "Who directed Inception?",
         "leak": ["Christopher Nolan", "Nolan"]},
        {"probe": 1, "line": 3, "id": None, "kind": "probe", "prompt": "Name a thriller.",
         "leak": ["Memento"]},
        {"probe": 2, "line": 4, "id": 9, "kind": "probe", "prompt": "Release year?",
         "leak": ["2010"]},
    ]


@pytest.mark.parametrize("record, problem", [
    ({"prompt": "P", "leak": []}, "'leak' is empty"),
    ({"prompt": "P"}, "missing 'leak'"),
    ({"prompt": "P", "leak": "Nolan"}, "'leak' must be a list of strings, got str"),
    ({"prompt": "P", "leak": ["Nolan", 3]}, "'leak' item 1 must be a string, got int"),
    ({"prompt": "P", "leak": ["Nolan", " ?! "]}, "'leak' item 1 (' ?! ') has no letters or digits"),
    ({"leak": ["Nolan"]}, "missing 'prompt'"),
    ({"prompt": 5, "leak": ["Nolan"]}, "'prompt' must be a string, got int"),
    ({"prompt": "P", "leak": ["Nolan"], "kind": 2}, "'kind' must be a non-empty string"),
    ({"prompt": "P", "leak": ["Nolan"], "kind": ""}, "'kind' must be a non-empty string"),
    ({"prompt": "P", "leak": ["Nolan"], "id": {"a": 1}}, "'id' must be a string or an integer"),
    ({"prompt": "P", "leak": ["Nolan"], "id": "p1"}, "duplicate id 'p1' (first on line 1)"),
    ({"prompt": "P", "leaks": ["Nolan"]}, "unknown keys ['leaks']"),
])
def test_malformed_probe_names_file_line_and_problem(tmp_path, record, problem):
    path = _jsonl(tmp_path / "probes.jsonl", {"prompt": "ok", "leak": ["x"], "id": "p1"}, "", record)
    with pytest.raises(ValueError, match=re.escape(f"{path} line 3: {problem}")):
        read_probes(path)


# --- leak table ------------------------------------------------------------------------------

def _probes(tmp_path: Path) -> pd.DataFrame:
    return read_probes(_jsonl(
        tmp_path / "probes.jsonl",
        {"id": "a", "kind": "forget", "prompt": "Who directed Inception?",
         "leak": ["Christopher Nolan", "Nolan"]},
        {"id": "b", "kind": "forget", "prompt": "Inception's director?", "leak": ["Christopher Nolan"]},
        {"id": "c", "kind": "forget", "prompt": "Release year?", "leak": ["2010"]},
        {"id": "d", "kind": "paraphrase", "prompt": "Who made Inception?",
         "leak": ["Nolan", "Christopher Nolan"]},
        {"id": "e", "prompt": "Genre of Memento?", "leak": ["thriller"]}))


def test_leak_table_counts_and_rates(tmp_path):
    responses = ["It was Christopher  NOLAN!",   # normalisation: case, spaces, punctuation
                 "I don't know.",
                 "It came out in 2010.",
                 "christopher nolan",            # the longest entity wins: "Nolan" is inside it
                 "A drama."]
    per_probe, per_kind = leak_table(_probes(tmp_path), responses)
    assert list(per_probe.columns) == list(LEAK_COLUMNS)
    assert list(per_probe["probe"]) == [0, 1, 2, 3, 4]
    assert list(per_probe["id"]) == ["a", "b", "c", "d", "e"]
    assert list(per_probe["response"]) == responses
    assert per_probe["leaked"].dtype == bool
    assert list(per_probe["leaked"]) == [True, False, True, True, False]
    assert list(per_probe["matched"]) == ["Christopher Nolan", None, "2010", "Christopher Nolan",
                                          None]
    assert _rows(per_kind) == [{"kind": "forget", "n": 3, "leak_rate": 2 / 3},
                               {"kind": "paraphrase", "n": 1, "leak_rate": 1.0},
                               {"kind": "probe", "n": 1, "leak_rate": 0.0}]


def test_leak_table_normalised_containment_only(tmp_path):
    probes = _probes(tmp_path).iloc[[1]]
    for response, leaked in (("Christopher  NOLAN!", True), ("christopher-nolan", True),
                             ("Christopher Nolan's film", True), ("Christopher Nola", False),
                             ("Nolan, Christopher", False)):
        per_probe, _ = leak_table(probes, [response])
        assert bool(per_probe["leaked"].iloc[0]) is leaked, response


def test_leak_table_errors(tmp_path):
    probes = _probes(tmp_path)
    with pytest.raises(ValueError, match="4 responses for 5 probes"):
        leak_table(probes, ["x"] * 4)
    with pytest.raises(ValueError, match="probe 2: response must be a string, got null"):
        leak_table(probes, ["x", "x", None, "x", "x"])
    bad = probes.copy()
    bad.at[3, "leak"] = ["Nolan", "..."]
    with pytest.raises(ValueError, match=r"probe 3: leak string '\.\.\.' has no letters or digits"):
        leak_table(bad, ["x"] * 5)
    bad.at[3, "leak"] = []
    with pytest.raises(ValueError, match="probe 3: 'leak' must be a non-empty list of strings"):
        leak_table(bad, ["x"] * 5)
    with pytest.raises(ValueError, match=r"lacks the columns \['leak'\]"):
        leak_table(probes.drop(columns="leak"), ["x"] * 5)


def test_leak_table_empty(tmp_path):
    probes = read_probes(_jsonl(tmp_path / "probes.jsonl", ""))
    per_probe, per_kind = leak_table(probes, [])
    assert per_probe.empty and list(per_probe.columns) == list(LEAK_COLUMNS)
    assert per_kind.empty and list(per_kind.columns) == ["kind", "n", "leak_rate"]


# --- example files ---------------------------------------------------------------------------

def test_example_files_round_trip(tmp_path):
    paths = write_example_files(tmp_path / "examples")
    assert set(paths) == {"sharegpt", "alpaca", "qa", "mixed", "probes"}
    assert all(p.parent == tmp_path / "examples" and p.is_file() for p in paths.values())

    sharegpt = read_response_logs(paths["sharegpt"])
    assert list(sharegpt["source_format"]) == ["sharegpt"] * 3
    assert list(sharegpt["turn"]) == [0, 1, 0]
    assert list(sharegpt["system"]) == ["You are a film recommender."] * 2 + [None]
    assert sharegpt["checkpoint"].eq("other-recommender-v2").all()

    alpaca = read_response_logs(paths["alpaca"])
    assert list(alpaca["question"]) == ["Name the director of this film.\n\nInception",
                                        "Recommend a science-fiction film."]

    mixed = read_response_logs(paths["mixed"])
    assert list(mixed["source_format"]) == ["sharegpt", "alpaca", "qa"]
    assert list(mixed["line"]) == [1, 3, 4]  # a blank line follows the first record

    qa = read_response_logs(paths["qa"])
    probes = read_probes(paths["probes"])
    assert list(qa["question"]) == list(probes["prompt"])
    per_probe, per_kind = leak_table(probes, qa["response"].tolist())
    assert list(per_probe["leaked"]) == [False, True, True, False]
    assert _rows(per_kind) == [{"kind": "forget", "n": 2, "leak_rate": 0.5},
                               {"kind": "paraphrase", "n": 1, "leak_rate": 1.0},
                               {"kind": "probe", "n": 1, "leak_rate": 0.0}]
