"""The forward-time ratio between a real run and its replay, on hand-made step tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from specsim.results import RunResult
from specsim.validate.speed import forward_time_ratio


def run_with_steps(rows: list[tuple[int, int, float, float, float]]) -> RunResult:
    """rows: (batch_size, accepted, draft_s, verify_s, prefill_s)."""
    steps = pd.DataFrame(rows, columns=["batch_size", "accepted", "draft_s", "verify_s", "prefill_s"])
    return RunResult(requests=pd.DataFrame(), steps=steps, summary={})


def test_ratio_of_forward_time_per_decoded_token() -> None:
    # real: 0.030 s of forwards for 2 + 2 + 1 + 1 = 6 tokens; sim: 0.010 s for 4 tokens
    real = run_with_steps([(2, 2, 0.004, 0.010, 0.0), (1, 1, 0.002, 0.010, 0.004)])
    sim = run_with_steps([(2, 0, 0.0, 0.006, 0.0), (2, 0, 0.0, 0.004, 0.0)])
    assert forward_time_ratio(real, sim) == pytest.approx((0.030 / 6) / (0.010 / 4))


def test_nothing_decoded_gives_nan() -> None:
    idle = run_with_steps([(0, 0, 0.0, 0.0, 0.01)])
    busy = run_with_steps([(1, 0, 0.0, 0.01, 0.0)])
    assert math.isnan(forward_time_ratio(idle, busy)) and math.isnan(forward_time_ratio(busy, idle))
