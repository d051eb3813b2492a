"""calibrate.overhead measures the real engine's host time per decode step outside its backend
calls — the scheduler's and the policy's share of a step."""

from __future__ import annotations

import time

import numpy as np

from calibrate.overhead import measure_step_overhead
from specsim.policy.base import BatchView
from specsim.policy.simple import FixedLength, NoSpeculation


class SlowFixed(FixedLength):
    """fixed(k) that thinks for 10 ms per step before answering."""

    def plan_draft(self, view: BatchView) -> np.ndarray:
        time.sleep(0.01)
        return super().plan_draft(view)


def test_the_policys_decision_time_is_in_the_overhead(tiny_models):
    target, draft = tiny_models
    positions = target.config.max_position_embeddings
    plain = measure_step_overhead(target, draft, NoSpeculation(), 2, 0.5, "cpu", positions)
    fixed = measure_step_overhead(target, draft, FixedLength(2), 2, 0.5, "cpu", positions)
    slow = measure_step_overhead(target, draft, SlowFixed(2), 2, 0.5, "cpu", positions)
    assert 0 < plain < 0.005 and 0 < fixed < 0.005  # tenths of a millisecond on the 2-core CPU
    assert slow - fixed > 0.009
