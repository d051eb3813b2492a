"""Command-line values every subcommand parses the same way: integers given as text (so a bad
one is a one-line error, not click's usage block), policy lists and `--set PATH=VALUE` scenario
overrides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from specsim.errors import SpecsimError


def integer_flag(flag: str, text: str | None, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise SpecsimError(f"{flag} {text}: expected an integer") from None
    if value < minimum:
        raise SpecsimError(f"{flag} {value}: must be at least {minimum}")
    return value


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in items:
        path, equals, text = item.partition("=")
        if not equals or not path.strip():
            raise SpecsimError(f"--set {item!r}: expected PATH=VALUE, e.g. workload.rate_scale=2")
        try:
            fields[path.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise SpecsimError(f"--set {item!r}: the value is not valid YAML") from None
    return fields


def policy_list(flag: str, text: str) -> list[str]:
    """Policy specs separated by ';' or spaces, each checked (an unknown one: one line)."""
    from specsim.policy import make_policy

    specs = [part for part in re.split(r"[;\s]+", text) if part]
    if not specs:
        raise SpecsimError(f"{flag}: no policy given")
    for spec in specs:
        try:
            make_policy(spec)
        except SpecsimError as error:
            raise SpecsimError(f"{flag}: {error}") from None
    return specs


def output_folder(flag: str, folder: Path) -> Path:
    """A folder results can be written into: refused before any work when it, or a folder it
    would be made in, is a file (so nothing half-written is left behind)."""
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                where = "is a file" if path == folder else f"would be made inside {path}, a file"
                raise SpecsimError(f"{flag} {folder}: {where}; give a folder")
            break
    return folder


def output_file(flag: str, path: Path) -> Path:
    """A file a result can be written to: not a folder, and its folder can be made."""
    if path.is_dir():
        raise SpecsimError(f"{flag} {path}: is a folder; give a file name such as profile.json")
    output_folder(flag, path.parent)
    return path
