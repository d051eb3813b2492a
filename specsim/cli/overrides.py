"""`--set PATH=VALUE` on the command line: a scenario field by dotted path, the value in YAML."""

from __future__ import annotations

from typing import Any

import yaml

from specsim.errors import SpecsimError


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
