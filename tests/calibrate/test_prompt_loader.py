import json

import pytest

from specsim.errors import SpecsimError
from specsim.prompts import CATEGORIES, Prompt, load_prompts


def test_builtin_prompts_cover_the_six_categories_with_text():
    prompts = load_prompts()
    assert tuple(prompts) == CATEGORIES
    for rows in prompts.values():
        assert 15 <= len(rows) <= 25
        assert all(p.text and p.token_ids is None for p in rows)
        assert len({p.text for p in rows}) == len(rows)  # no duplicates


def test_token_id_rows_and_blank_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"category": "math", "token_ids": [3, 1, 4]}\n\n'
                    '{"category": "code", "text": "x", "id": 7}\n')
    prompts = load_prompts(path)
    assert prompts == {"math": [Prompt("math", token_ids=(3, 1, 4))], "code": [Prompt("code", text="x")]}


@pytest.mark.parametrize("row, message", [
    ({"text": "hello"}, "category: required field is missing"),
    ({"category": "", "text": "hello"}, "category: must be a non-empty string"),
    ({"category": "chat"}, "exactly one of 'text' or 'token_ids'"),
    ({"category": "chat", "text": "a", "token_ids": [1]}, "exactly one of 'text' or 'token_ids'"),
    ({"category": "chat", "token_ids": [1, -2]}, "token_ids: must be a non-empty list"),
    ({"category": "chat", "token_ids": []}, "token_ids: must be a non-empty list"),
    ([1, 2], "each line must be a JSON object"),
])
def test_bad_rows_are_refused_with_file_and_line(tmp_path, row, message):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"category": "chat", "text": "ok"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(SpecsimError) as error:
        load_prompts(path)
    assert str(error.value).startswith(f"{path}:2: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_empty_and_malformed_files(tmp_path):
    with pytest.raises(SpecsimError, match="no such prompt file"):
        load_prompts(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SpecsimError, match="holds no prompts"):
        load_prompts(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(SpecsimError, match=r"bad.jsonl:1: not valid JSON"):
        load_prompts(tmp_path / "bad.jsonl")
