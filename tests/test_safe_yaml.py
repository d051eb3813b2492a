"""specsim/safe_yaml.py: safe_load, less the billion laughs."""

from __future__ import annotations

import pytest
import yaml

from specsim.safe_yaml import MAX_YAML_VALUES, YamlTooLarge, load_yaml


def alias_bomb() -> str:
    """Ten lines of anchors, each referring ten times to the one before: 10^10 values in all."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefghij", "abcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 10)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused() -> None:
    with pytest.raises(YamlTooLarge, match=f"over {MAX_YAML_VALUES:,} values"):
        load_yaml(alias_bomb())


def test_an_ordinary_document_reads_as_safe_load_reads_it() -> None:
    text = "base: &base {rate: 2.5, k: [1, 2]}\nother: *base\nempty:\nname: bursty\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml("") is None
