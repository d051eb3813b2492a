"""YAML as specsim reads it from users and from other tools' files: safe_load, but a document whose
aliases expand past MAX_YAML_VALUES values (the "billion laughs": a few lines of anchors
referring to anchors) is refused before anything builds it."""

from __future__ import annotations

from typing import Any

import yaml

# a scenario is a page and a benchmark's configuration a few; nothing specsim reads comes close
MAX_YAML_VALUES = 100_000


class YamlTooLarge(Exception):
    pass


def load_yaml(text: str) -> Any:
    """yaml.safe_load, refusing documents whose aliases expand past MAX_YAML_VALUES values."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_size(node: yaml.Node) -> None:
    expanded: dict[int, int] = {}

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in expanded:  # an alias: the same node again, counted again when read
            return expanded[key]
        expanded[key] = 1  # a cycle counts once
        total = 1
        if isinstance(current, yaml.SequenceNode):
            total += sum(size(child) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            total += sum(size(key_node) + size(value_node) for key_node, value_node in current.value)
        expanded[key] = total
        if total > MAX_YAML_VALUES:
            raise YamlTooLarge(f"the YAML expands to over {MAX_YAML_VALUES:,} values (aliases that refer "
                               "to aliases?)")
        return total

    size(node)
