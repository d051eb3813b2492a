"""Trace loaders for the four formats, and every refusal of a bad trace (with its file line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from specsim.errors import SpecsimError
from specsim.workload.traces import load_trace

AZURE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.0000000,396,109
2023-11-16 18:16:46.6805901,879,0
2023-11-16 18:17:01.1234567,1200,7
"""

BURSTGPT = """Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
5,ChatGPT,472,18,490,Conversation log
45.5,ChatGPT,1087,0,1087,Conversation log
47,GPT-4,417,276,693,API log
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _mooncake(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    return _write(tmp_path, "m.jsonl", "".join(json.dumps(row) + "\n" for row in rows))


def test_azure_parses_seven_digit_fractions_to_seconds_since_first_row(tmp_path: Path) -> None:
    frame = load_trace("azure", _write(tmp_path, "a.csv", AZURE))
    # the 0-token row is a failed request: dropped and counted
    assert frame.attrs["failed_requests"] == 1
    np.testing.assert_allclose(frame["arrival_s"], [0.0, 3.31941, 74.4428667], atol=1e-7)
    assert frame["prompt_tokens"].tolist() == [374, 396, 1200]
    assert frame["output_tokens"].tolist() == [44, 109, 7]
    assert frame["prompt_tokens"].dtype == np.int64 and frame["arrival_s"].dtype == np.float64


def test_burstgpt_keeps_absolute_seconds_and_drops_failures(tmp_path: Path) -> None:
    frame = load_trace("burstgpt", _write(tmp_path, "b.csv", BURSTGPT))
    assert frame["arrival_s"].tolist() == [5.0, 47.0]
    assert frame["prompt_tokens"].tolist() == [472, 417]
    assert frame["output_tokens"].tolist() == [18, 276]
    assert frame.attrs["failed_requests"] == 1
    assert list(frame.columns) == ["arrival_s", "prompt_tokens", "output_tokens"]


def test_mooncake_milliseconds_and_ignored_keys(tmp_path: Path) -> None:
    path = _mooncake(
        tmp_path,
        [
            {"timestamp": 0, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47]},
            {"timestamp": 1500, "input_length": 7000, "output_length": 3, "hash_ids": []},
        ],
    )
    frame = load_trace("mooncake", path)
    assert frame["arrival_s"].tolist() == [0.0, 1.5]
    assert frame["prompt_tokens"].tolist() == [6955, 7000]
    assert frame["output_tokens"].tolist() == [52, 3]


def test_plain_csv_with_categories_and_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "c.csv", "arrival_s,prompt_tokens,output_tokens,category\n0.5,10,5,code\n\n1.0,20,6,chat\n"
    )
    frame = load_trace("csv", path)
    assert frame["arrival_s"].tolist() == [0.5, 1.0]
    assert frame["category"].tolist() == ["code", "chat"]
    without = load_trace("csv", _write(tmp_path, "d.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,1\n"))
    assert "category" not in without.columns


def test_callers_cannot_corrupt_the_cached_copy(tmp_path: Path) -> None:
    path = _write(tmp_path, "b.csv", BURSTGPT)
    frame = load_trace("burstgpt", path)
    frame["prompt_tokens"] = 0
    frame.attrs["failed_requests"] = 99
    again = load_trace("burstgpt", path)
    assert again["prompt_tokens"].tolist() == [472, 417]
    assert again.attrs["failed_requests"] == 1


@pytest.mark.parametrize(
    ("format", "text", "expected"),
    [
        (
            "burstgpt",
            "Timestamp,Model,Request tokens,Total tokens\n1,ChatGPT,3,4\n",
            "missing column 'Response tokens'",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("47,GPT-4", "soon,GPT-4"),
            "line 4: column 'Timestamp' is not a finite number, got 'soon'",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("472,18", "many,18"),
            "line 2: column 'Request tokens' is not a finite number",
        ),
        ("burstgpt", BURSTGPT.replace("472,18", ",18"), "line 2: column 'Request tokens' is empty"),
        ("burstgpt", BURSTGPT.replace("417,276", "417,nan"), "line 4: column 'Response tokens' is empty"),
        (
            "burstgpt",
            BURSTGPT.replace("47,GPT-4", "40,GPT-4"),
            "line 4: column 'Timestamp' goes back in time (40.0 after 45.5)",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("\n5,ChatGPT", "\n-5,ChatGPT"),
            "line 2: column 'Timestamp' is negative, got -5",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("472,18", "0,18"),
            "line 2: column 'Request tokens' must be at least 1, got 0",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("472,18", "-3,18"),
            "line 2: column 'Request tokens' must be at least 1, got -3",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("472,18", "472,-18"),
            "line 2: column 'Response tokens' is negative, got -18",
        ),
        (
            "burstgpt",
            BURSTGPT.replace("472,18", "47.5,18"),
            "line 2: column 'Request tokens' is not a whole number",
        ),
        (
            "csv",
            "arrival_s,prompt_tokens,output_tokens\n0,5,5\n\n\n2,inf,5\n",
            "line 5: column 'prompt_tokens'",
        ),
        (
            "csv",
            "arrival_s,prompt_tokens,output_tokens,category\n0,5,5,chat\n1,5,5,\n",
            "line 3: column 'category' is empty",
        ),
        ("csv", "arrival_s,prompt_tokens,output_tokens\n", "trace has no requests"),
        ("csv", "", "trace is empty"),
        ("csv", "arrival_s,prompt_tokens,output_tokens\n0,5,0\n", "trace has no requests with output tokens"),
        (
            "azure",
            AZURE.replace("2023-11-16 18:15:50.0000000", "yesterday"),
            "line 3: column 'TIMESTAMP' is not a timestamp, got 'yesterday'",
        ),
        (
            "azure",
            AZURE.replace("2023-11-16 18:15:50.0000000", "2023-11-16 18:15:40.0000000"),
            "line 3: column 'TIMESTAMP' goes back in time",
        ),
        ("azure", AZURE.replace("2023-11-16 18:15:50.0000000", ""), "line 3: column 'TIMESTAMP' is empty"),
    ],
)
def test_bad_csv_traces_are_refused_with_file_and_line(
    tmp_path: Path, format: str, text: str, expected: str
) -> None:
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(SpecsimError) as caught:
        load_trace(format, path)  # type: ignore[arg-type]
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [
                '{"timestamp": 0, "input_length": 5, "output_length": 2}',
                '{"timestamp": 10, "input_length": 5',
            ],
            "line 2: not valid JSON",
        ),
        (['{"timestamp": 0, "input_length": 5}'], "line 1: missing key 'output_length'"),
        (["[1, 2, 3]"], "line 1: expected a JSON object"),
        (
            [
                '{"timestamp": 0, "input_length": 5, "output_length": 2}',
                "",
                '{"timestamp": "late", "input_length": 5, "output_length": 2}',
            ],
            "line 3: column 'timestamp' is not a finite number, got 'late'",
        ),
        (
            [
                '{"timestamp": 0, "input_length": 5, "output_length": 2}',
                '{"timestamp": 20, "input_length": null, "output_length": 2}',
            ],
            "line 2: column 'input_length' is empty",
        ),
        (
            [
                '{"timestamp": 50, "input_length": 5, "output_length": 2}',
                '{"timestamp": 20, "input_length": 5, "output_length": 2}',
            ],
            "line 2: column 'timestamp' goes back in time",
        ),
    ],
)
def test_bad_mooncake_lines_are_refused(tmp_path: Path, lines: list[str], expected: str) -> None:
    path = _write(tmp_path, "bad.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(SpecsimError, match=r"bad\.jsonl") as caught:
        load_trace("mooncake", path)
    assert expected in str(caught.value)


def test_missing_or_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SpecsimError, match=r"nope\.csv: trace file not found$"):
        load_trace("csv", tmp_path / "nope.csv")
    with pytest.raises(SpecsimError, match="is a directory"):
        load_trace("csv", tmp_path)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    with pytest.raises(SpecsimError, match=r"binary\.jsonl: cannot read trace"):
        load_trace("mooncake", binary)


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", "arrival_s,prompt_tokens,output_tokens\n0,5,5\n")
    assert load_trace("csv", str(path))["prompt_tokens"].tolist() == [5]
    path.write_text("arrival_s,prompt_tokens,output_tokens\n0,50,5\n1,60,5\n")
    assert load_trace("csv", str(path))["prompt_tokens"].tolist() == [50, 60]
