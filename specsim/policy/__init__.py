"""Speculative-decoding policies behind the contract-1 API (`base.py`).

A policy is named in scenarios and on the command line as `name` or `name:key=value,...`
(`fixed:k=4`) or, in YAML, as a mapping `{name: fixed, k: 4}`.
"""

from __future__ import annotations

import inspect
from typing import Any

from specsim.errors import SpecsimError
from specsim.policy.adaptive import Adaptive
from specsim.policy.base import BatchView, Drafts, Policy, StepOutcome
from specsim.policy.disable_by_batch import DisableByBatch
from specsim.policy.goodput import Goodput
from specsim.policy.oracle import Oracle
from specsim.policy.simple import FixedLength, NoSpeculation
from specsim.policy.slo_customized import SloCustomized
from specsim.policy.static_tree import StaticTree
from specsim.policy.threshold import ConfidenceThreshold

# Every policy class, by the name users write. Adding a policy = one line here.
POLICIES: dict[str, type[Policy]] = {cls.name: cls for cls in (
    NoSpeculation, FixedLength, DisableByBatch, ConfidenceThreshold, Goodput, Adaptive, SloCustomized, Oracle,
    StaticTree,
)}

__all__ = ["POLICIES", "BatchView", "Drafts", "Policy", "StepOutcome", "make_policy", "parse_policy_spec"]


def parse_policy_spec(spec: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """`"fixed:k=4"` or `{"name": "fixed", "k": 4}` → ("fixed", {"k": "4" or 4})."""
    if isinstance(spec, dict):
        arguments = dict(spec)
        name = arguments.pop("name", None)
        if not isinstance(name, str):
            raise SpecsimError(f"policy {spec!r}: a mapping needs a 'name'")
        return name, arguments
    if not isinstance(spec, str) or not spec.strip():
        raise SpecsimError(f"policy {spec!r}: expected a name like 'fixed:k=4'")
    name, _, rest = spec.strip().partition(":")
    arguments: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise SpecsimError(f"policy {spec!r}: expected key=value, got {item!r}")
        arguments[key.strip()] = value.strip()
    return name.strip(), arguments


def make_policy(spec: str | dict[str, Any]) -> Policy:
    """A fresh policy instance (policies are stateful: one per replica per run)."""
    name, arguments = parse_policy_spec(spec)
    cls = POLICIES.get(name)
    if cls is None:
        raise SpecsimError(f"unknown policy {name!r}; known: {', '.join(sorted(POLICIES))}")
    signature = inspect.signature(cls.__init__)
    typed: dict[str, Any] = {}
    for key, value in arguments.items():
        parameter = signature.parameters.get(key)
        if parameter is None or key == "self":
            allowed = [p for p in signature.parameters if p != "self"]
            raise SpecsimError(f"policy {name!r} has no parameter {key!r} (parameters: {allowed or 'none'})")
        typed[key] = _convert(name, key, value, parameter.default)
    try:
        return cls(**typed)
    except (TypeError, ValueError) as error:
        raise SpecsimError(f"policy {name!r}: {error}") from None


def _convert(policy: str, key: str, value: Any, default: Any) -> Any:
    """Strings from the command line take the type of the parameter's default."""
    if not isinstance(value, str) or default is inspect.Parameter.empty or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "on", "off"):
                raise ValueError
            return value.lower() in ("true", "1", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise SpecsimError(
            f"policy {policy!r}: {key} must be a {type(default).__name__}, got {value!r}"
        ) from None
    return value
