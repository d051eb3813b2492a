"""Each request's prompt as token ids: drawn from its category's prompt set, then trimmed or
padded to the requested prompt length (padding appends further prompts of the same category, so
the text stays in that category's style rather than repeating one token)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specsim.errors import SpecsimError
from specsim.prompts import load_prompts
from specsim.workload.requests import Requests


def find_prompt_file(target: str | Path, given: str | Path | None) -> Path | None:
    """`given`, else a `prompts.jsonl` beside the target checkpoint (the tiny pair's layout), else
    None (the built-in text prompts)."""
    if given is not None:
        return Path(given)
    folder = Path(target)
    for candidate in (folder / "prompts.jsonl", folder.parent / "prompts.jsonl"):
        if folder.is_dir() and candidate.is_file():
            return candidate
    return None


def request_prompts(requests: Requests, prompt_file: Path | None, tokenizer, vocab_size: int,
                    rng: np.random.Generator) -> list[list[int]]:
    grouped = load_prompts(prompt_file)
    where = prompt_file or "the built-in prompt set"
    encoded: dict[str, list[list[int]]] = {}
    for category in requests.categories:
        prompts = grouped.get(category)
        if not prompts:
            known = ", ".join(grouped)
            raise SpecsimError(f"{where}: no prompts for workload category {category!r} (it has: {known})")
        encoded[category] = [_encode(p, tokenizer, where) for p in prompts]
        largest = max(max(ids) for ids in encoded[category])
        if largest >= vocab_size:
            raise SpecsimError(f"{where}: category {category!r}: token id {largest} is outside the target's "
                               f"vocabulary of {vocab_size}")
    result = []
    names = requests.category_names()
    for index in range(len(requests)):
        pool = encoded[names[index]]
        length = int(requests.prompt_tokens[index])
        first = int(rng.integers(len(pool)))
        ids: list[int] = []
        step = 0
        while len(ids) < length:
            ids.extend(pool[(first + step) % len(pool)])
            step += 1
        result.append(ids[:length])
    return result


def _encode(prompt, tokenizer, where) -> list[int]:
    if prompt.token_ids is not None:
        return list(prompt.token_ids)
    if tokenizer is None:
        raise SpecsimError(f"{where}: text prompts need a tokenizer, and the target has none; give a prompt "
                           "file with token_ids (--prompts)")
    ids = tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise SpecsimError(f"{where}: a {prompt.category!r} prompt encodes to no tokens")
    return list(ids)
