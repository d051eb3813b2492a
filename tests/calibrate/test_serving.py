"""calibrate.serving measures on the real engine: its host time per decode step outside the
backend calls (the scheduler's and the policy's share), and how much slower the prefill that
wakes it from an idle wait runs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from calibrate.serving import measure_idle_wake, measure_step_overhead
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


class SlowAfterIdle:
    """A model whose forward takes 100 ms longer when it was not called for 50 ms."""

    def __init__(self, model) -> None:
        self.model, self.config = model, model.config
        self.last_call = 0.0

    def parameters(self):
        return self.model.parameters()

    def __call__(self, **inputs):
        if time.perf_counter() - self.last_call > 0.05:
            time.sleep(0.1)
        output = self.model(**inputs)
        self.last_call = time.perf_counter()
        return output


def test_idle_wake_is_the_engines_prefill_after_a_wait_over_the_warm_one(tiny_models):
    target, draft = tiny_models
    calls: list[int] = []

    def warm_prefill_s(tokens: int) -> float:
        calls.append(tokens)
        return 0.025

    # every prefill after a wait takes its real time + 100 ms: over a stated warm 25 ms that is more
    # than ×4 (a factor above 3) whatever the machine's speed
    factor = measure_idle_wake(SlowAfterIdle(target), draft, FixedLength(2), warm_prefill_s, "cpu", samples=4,
                               idle_s=0.2)
    assert factor > 3.0
    # the spacing asks once, then each of the (at least 3 of 4) prefills after a sleep, one prompt each
    assert len(calls) >= 4 and set(calls) == {32}
    # the same engine without the penalty: its real prefill over a generous "warm" time
    assert measure_idle_wake(target, draft, FixedLength(2), lambda tokens: 0.2, "cpu", samples=4,
                             idle_s=0.2) == pytest.approx(0.0)
