"""calibrate.serving measures on the real engine: its host time per decode step outside the
backend calls (the scheduler's and the policy's share), and how much slower the prefill that
wakes it from an idle wait runs."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from calibrate.serving import (
    measure_idle_wake,
    measure_step_overhead,
    step_time_persistence,
    step_time_spread,
)
from sim.step_jitter import StepJitter
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
    """A model whose forward takes `every_call_s` longer, and `after_idle_s` more when it was not
    called for 50 ms."""

    def __init__(self, model, after_idle_s: float, every_call_s: float = 0.0) -> None:
        self.model, self.config = model, model.config
        self.after_idle_s, self.every_call_s = after_idle_s, every_call_s
        self.last_call = 0.0

    def parameters(self):
        return self.model.parameters()

    def __call__(self, **inputs):
        woken = time.perf_counter() - self.last_call > 0.05
        time.sleep(self.every_call_s + (self.after_idle_s if woken else 0.0))
        output = self.model(**inputs)
        self.last_call = time.perf_counter()
        return output


def test_idle_wake_is_the_engines_prefill_after_a_wait_over_its_warm_prefills(tiny_models):
    target, draft = tiny_models
    # 200 ms more after a wait, on a warm prefill of tens of milliseconds (×4.3-4.9 at 100 ms, 2026-12-01)
    factor = measure_idle_wake(SlowAfterIdle(target, 0.2), draft, FixedLength(2), 0.04, "cpu", samples=4,
                               idle_s=0.2)
    assert factor > 3.0
    # a machine slow on every call (30 ms) but no slower after a wait: the warm prefills of the same
    # seconds are as slow, so no wake-up is read into it (the estimate — a prefill, 30 ms + the
    # pair's own — only spaces the groups: too low, and a group overruns the next one's idle wait)
    uniform = measure_idle_wake(SlowAfterIdle(target, 0.0, every_call_s=0.03), draft, FixedLength(2), 0.06,
                                "cpu", samples=4, idle_s=0.2)
    assert uniform < 0.25
    # both together: the wake-up is measured against the slow warm prefills, 60 / (30 + the pair's own
    # prefill time, tens of milliseconds): about 1, where against the bare pair it would be several
    both = measure_idle_wake(SlowAfterIdle(target, 0.06, every_call_s=0.03), draft, FixedLength(2), 0.06,
                             "cpu", samples=4, idle_s=0.2)
    assert 0.5 < both < 2.0


def test_step_time_spread_is_quantiles_of_each_step_over_its_runs_median() -> None:
    # every fourth step 1.5x the others: a fast run and a 3x slower one read alike
    pattern = np.tile([1.0, 1.0, 1.0, 1.5], 12)
    fast = pd.DataFrame({"step_s": 0.01 * pattern})
    slow = pd.DataFrame({"step_s": 0.03 * pattern})
    expected = [1.0, 1.0, 1.0, 1.5]  # at probabilities 1/8, 3/8, 5/8, 7/8
    assert step_time_spread([fast, slow], quantiles=4) == pytest.approx(expected)
    # a slow spell within a run is part of the spread (its memory is the persistence)
    spell = pd.DataFrame({"step_s": 0.01 * np.r_[np.ones(36), np.full(12, 2.0)]})
    assert step_time_spread([spell], quantiles=4) == pytest.approx([1.0, 1.0, 1.0, 2.0])
    # too few steps for the quantiles asked: nothing, not a guess
    assert step_time_spread([fast.head(5)], quantiles=4) == []


@pytest.mark.parametrize("persistence", [0.0, 0.5, 0.85])
def test_step_time_persistence_reads_back_the_simulators_sticky_draws(persistence: float) -> None:
    # calibrate's estimate of the factor the simulator's jitter (sim/step_jitter.py) sticks by
    jitter = StepJitter(np.array([0.9, 1.0, 1.1, 1.6]), np.random.default_rng(2), persistence)
    runs = [pd.DataFrame({"step_s": 0.02 * jitter.peek(4000 * (index + 1))[4000 * index:]})
            for index in range(3)]
    assert step_time_persistence(runs) == pytest.approx(persistence, abs=0.03)


def test_step_time_persistence_is_never_negative_and_needs_steps() -> None:
    alternating = pd.DataFrame({"step_s": np.tile([0.01, 0.02], 30)})
    assert step_time_persistence([alternating]) == 0.0
    blocks = pd.DataFrame({"step_s": np.repeat(np.tile([0.01, 0.02], 10), 8)})
    # a two-valued series that changes every 8 steps: lag-1 autocorrelation 1 − 2/8
    assert step_time_persistence([blocks]) == pytest.approx(0.75, abs=0.01)
    assert step_time_persistence([blocks.head(10)]) == 0.0
