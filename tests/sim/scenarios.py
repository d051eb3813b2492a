"""Small scenario builders shared by the simulator's tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim import simulate
from sim.sampling import SampledSpeculation
from specsim.profile.schema import Profile
from specsim.results import RunResult
from specsim.scenario import Scenario, scenario_from_dict


def poisson_scenario(rate: float, duration_s: float, prompt_tokens: int, output_tokens: int,
                     max_batch_size: int = 1, replicas: int = 1, **extra: Any) -> Scenario:
    raw: dict[str, Any] = {
        "name": "test",
        "cluster": {"replicas": replicas, "max_batch_size": max_batch_size, "max_batch_tokens": 4096,
                    "kv_capacity_tokens": 1_000_000},
        "workload": {"duration_s": duration_s, "arrival": {"kind": "poisson", "rate": rate},
                     "prompt_tokens": {"kind": "fixed", "value": prompt_tokens},
                     "output_tokens": {"kind": "fixed", "value": output_tokens}},
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
        "policies": ["none"],
        "drain_s": 1e9,
    }
    for path, value in extra.items():
        node = raw
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return scenario_from_dict(raw)


def assert_spans_match_step_by_step(scenario: Scenario, policy: str, profile: Profile,
                                    monkeypatch) -> tuple[RunResult, RunResult]:
    """Simulate with the spans (several steps as one wait), then (for the rest of the test) one
    step at a time: the same tables. Returns (spans, step-by-step)."""
    spans = simulate(scenario, policy, seed=1, profile=profile)
    monkeypatch.setattr(SampledSpeculation, "span_steps", False)
    step_by_step = simulate(scenario, policy, seed=1, profile=profile)
    pd.testing.assert_frame_equal(spans.steps, step_by_step.steps, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(spans.requests, step_by_step.requests, check_exact=False, rtol=1e-9)
    return spans, step_by_step
