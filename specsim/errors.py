"""The one error type a user sees: a single line naming the file and the field at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class SpecsimError(Exception):
    """Bad input or an impossible request. The CLI prints `error: <message>` and exits 2."""


def describe_value(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_error(source: str | Path, error: ValidationError, data: Any = None) -> SpecsimError:
    """Turn pydantic's multi-line report into one line: `file: field.path: what, got X`.

    Only the first problem is reported: one clear line beats a wall of text, and fixing it
    reveals the next. `data` is the raw input; with it, the tags pydantic inserts into the
    locations of tagged unions ("arrival.poisson.rate") are dropped, since the user wrote
    "arrival.rate".
    """
    first = error.errors(include_url=False)[0]
    path = ".".join(str(part) for part in _user_path(first["loc"], data))
    message = first["msg"]
    message = message[0].lower() + message[1:] if message else message
    location = f"{source}: {path}: " if path else f"{source}: "
    if first["type"] == "missing":
        return SpecsimError(f"{location}required field is missing")
    if first["type"] == "extra_forbidden":
        return SpecsimError(f"{location}unknown field")
    got = "" if "input" not in first else f", got {describe_value(first['input'])}"
    return SpecsimError(f"{location}{message}{got}")


def _user_path(location: tuple[Any, ...], data: Any) -> list[Any]:
    if data is None:
        return list(location)
    path: list[Any] = []
    node = data
    for part in location:
        if isinstance(node, dict):
            if part in node:
                node = node[part]
                path.append(part)
            elif not _is_tag(part, node):
                path.append(part)  # a missing or unknown field: name it
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif not isinstance(node, (dict, list)):
            path.append(part)
    return path


def _is_tag(part: Any, node: dict[Any, Any]) -> bool:
    # a tagged union's tag equals the discriminator's value in the user's mapping
    if isinstance(part, str) and part.startswith(("function-", "tagged-union")):
        return True
    return any(part == value for value in node.values() if isinstance(value, str))
