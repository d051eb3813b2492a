"""Prompt sets: the text (or token ids) that calibration and the real engine feed the models.

A prompt file is JSONL, one prompt per line:

    {"category": "code", "text": "Write a Python function that ..."}
    {"category": "math", "token_ids": [17, 5, 902, 44]}

- `category` (required): the workload category whose acceptance curve the prompt informs
  (the project uses `CATEGORIES`, but any name is accepted).
- exactly one of `text` (a non-empty string, for models with a tokenizer) or `token_ids`
  (a non-empty list of non-negative integers, for models without one: random or tiny models).
- other fields (an `id`, a source) are allowed and ignored; blank lines are skipped.

`load_prompts()` with no path reads the project's own set (`default.jsonl`: 18-20 prompts for
each of the six categories, written for this project). Torch-free on purpose: the simulator and
the CLI read prompt files without the engine installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from specsim.errors import SpecsimError, describe_value

CATEGORIES = ("chat", "code", "summarisation", "math", "translation", "retrieval")
DEFAULT_PROMPTS = Path(__file__).resolve().parent / "default.jsonl"

__all__ = ["CATEGORIES", "DEFAULT_PROMPTS", "Prompt", "load_prompts"]


@dataclass(frozen=True)
class Prompt:
    """One prompt: `text` for tokenizer models, or `token_ids` already tokenized (never both)."""

    category: str
    text: str | None = None
    token_ids: tuple[int, ...] | None = None


def load_prompts(path: str | Path | None = None) -> dict[str, list[Prompt]]:
    """Prompts grouped by category, in the order categories first appear in the file."""
    path = Path(path) if path is not None else DEFAULT_PROMPTS
    if not path.is_file():
        raise SpecsimError(f"{path}: no such prompt file")
    grouped: dict[str, list[Prompt]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            prompt = _parse_row(line, f"{path}:{number}")
            grouped.setdefault(prompt.category, []).append(prompt)
    if not grouped:
        raise SpecsimError(f"{path}: holds no prompts")
    return grouped


def _parse_row(line: str, where: str) -> Prompt:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise SpecsimError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise SpecsimError(f"{where}: each line must be a JSON object, got {describe_value(row)}")
    category = row.get("category")
    if category is None:
        raise SpecsimError(f"{where}: category: required field is missing")
    if not isinstance(category, str) or not category.strip():
        raise SpecsimError(f"{where}: category: must be a non-empty string, got {describe_value(category)}")
    has_text, has_ids = "text" in row, "token_ids" in row
    if has_text == has_ids:
        raise SpecsimError(f"{where}: needs exactly one of 'text' or 'token_ids'")
    if has_text:
        text = row["text"]
        if not isinstance(text, str) or not text.strip():
            raise SpecsimError(f"{where}: text: must be a non-empty string, got {describe_value(text)}")
        return Prompt(category=category, text=text)
    ids = row["token_ids"]
    valid = isinstance(ids, list) and ids and all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids
    )
    if not valid:
        raise SpecsimError(
            f"{where}: token_ids: must be a non-empty list of non-negative integers, "
            f"got {describe_value(ids)}"
        )
    return Prompt(category=category, token_ids=tuple(ids))
