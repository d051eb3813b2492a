"""Shared builders: a small scenario on the shipped H100 profile (the simulator needs no torch)."""

from __future__ import annotations

from typing import Any

import pytest

from specsim.profile import load_profile
from specsim.scenario import Scenario, scenario_from_dict

SHIPPED = "h100-llama2-7b-llama-68m"


def small_scenario(rate: float = 20.0, duration_s: float = 5.0, output_tokens: Any = None,
                   **overrides: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "validate-test",
        "cluster": {"max_batch_size": 8, "max_batch_tokens": 2048, "kv_capacity_tokens": 200_000},
        "workload": {"duration_s": duration_s, "arrival": {"kind": "poisson", "rate": rate},
                     "prompt_tokens": {"kind": "uniform", "low": 32, "high": 128},
                     "output_tokens": output_tokens or {"kind": "uniform", "low": 16, "high": 64},
                     "categories": {"chat": 1.0, "code": 1.0}},
        "slo": {"ttft_s": 0.5, "tpot_s": 0.03},
        "policies": ["none", "fixed:k=3"],
        "sweep": {"grid": {"workload.rate_scale": [0.5, 1.0]}},
    }
    raw.update(overrides)
    return scenario_from_dict(raw)


@pytest.fixture(scope="session")
def shipped_profile():
    # priced as realrun's engine runs a step (separate forwards): validate's "real" runs here are
    # the simulator standing in for realrun
    return load_profile(SHIPPED).model_copy(update={"engine": None})
