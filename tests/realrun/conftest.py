"""Small scenarios for the real engine's tests (the tiny pair and its models: tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import torch

from specsim.scenario import Scenario, scenario_from_dict

# one thread: the test machines have 2 shared cores, and oversubscribed torch threads are
# several times slower than one under a neighbour's load
torch.set_num_threads(1)


def small_scenario(max_batch_size: int = 4, count: int = 6, prompt_tokens: int = 16, output_tokens: int = 24,
                   decoding: str = "greedy", **cluster: Any) -> Scenario:
    """`count` requests arriving within ~0.1 s, mixed categories."""
    raw: dict[str, Any] = {
        "name": "realrun-test",
        "decoding": decoding,
        "cluster": {"max_batch_size": max_batch_size, "max_batch_tokens": 512, "kv_capacity_tokens": 100_000,
                    **cluster},
        "workload": {"max_requests": count, "duration_s": 0.1, "arrival": {"kind": "poisson", "rate": 400},
                     "prompt_tokens": {"kind": "fixed", "value": prompt_tokens},
                     "output_tokens": {"kind": "fixed", "value": output_tokens},
                     "categories": {"code": 1, "chat": 1, "translation": 1}},
        "slo": {"ttft_s": 5.0, "tpot_s": 0.5},
        "policies": ["none"],
        "drain_s": 120,
    }
    return scenario_from_dict(raw)
