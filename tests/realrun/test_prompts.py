"""Each request's prompt: from its category's set, trimmed or padded to its length."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realrun.prompts import find_prompt_file, request_prompts
from specsim.errors import SpecsimError
from specsim.workload.requests import Requests


def _requests(lengths, categories) -> Requests:
    count = len(lengths)
    return Requests(arrival_s=np.zeros(count), prompt_tokens=np.asarray(lengths, dtype=np.int64),
                    output_tokens=np.ones(count, dtype=np.int64),
                    category=np.asarray(categories, dtype=np.int64), categories=("code", "chat"))


def test_prompts_are_trimmed_or_padded_within_their_category(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"category": "code", "token_ids": [1, 2, 3]}, {"category": "code", "token_ids": [4, 5]},
            {"category": "chat", "token_ids": [10, 11, 12, 13]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    requests = _requests([2, 11, 9], [0, 0, 1])
    prompts = request_prompts(requests, path, None, 100, np.random.default_rng(0))
    assert [len(p) for p in prompts] == [2, 11, 9]
    assert set(prompts[1]) <= {1, 2, 3, 4, 5} and set(prompts[2]) <= {10, 11, 12, 13}
    with pytest.raises(SpecsimError, match="outside the target's vocabulary"):
        request_prompts(requests, path, None, 12, np.random.default_rng(0))
    with pytest.raises(SpecsimError, match="text prompts need a tokenizer"):
        request_prompts(requests, None, None, 100, np.random.default_rng(0))


def test_prompt_file_beside_the_checkpoint(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "prompts.jsonl").write_text("")
    assert find_prompt_file(tmp_path / "target", None) == tmp_path / "prompts.jsonl"
    assert find_prompt_file(tmp_path / "target", "x.jsonl") == tmp_path.__class__("x.jsonl")
    assert find_prompt_file("tiny-target", None) is None
