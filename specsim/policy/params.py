"""Labels that stay short: a policy's label lists only the arguments changed from the defaults."""

from __future__ import annotations

import inspect

from specsim.policy.base import Policy


def changed_parameters(policy: Policy, values: dict[str, object]) -> dict[str, object]:
    """`values` without the entries equal to the constructor's defaults."""
    signature = inspect.signature(type(policy).__init__)
    return {key: value for key, value in values.items()
            if signature.parameters[key].default != value}
