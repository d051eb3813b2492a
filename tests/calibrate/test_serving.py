"""calibrate.serving measures on the real engine: its host time per decode step outside the
backend calls (the scheduler's and the policy's share), and how much slower the prefill that
wakes it from an idle wait runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibrate.serving import (
    IdleWake,
    measure_idle_wake,
    measure_step_overhead,
    step_time_persistence,
    step_time_spread,
)
from sim.step_jitter import StepJitter
from specsim.policy.base import BatchView
from specsim.policy.simple import FixedLength, NoSpeculation
from tests.calibrate.stepped_clock import SteppedClock


class SlowFixed(FixedLength):
    """fixed(k) that thinks for 10 ms per step before answering."""

    def __init__(self, k: int, clock: SteppedClock) -> None:
        super().__init__(k)
        self.clock = clock

    def plan_draft(self, view: BatchView) -> np.ndarray:
        self.clock.advance(0.01)
        return super().plan_draft(view)


def test_the_policys_decision_time_is_in_the_overhead(tiny_models):
    target, draft = tiny_models
    positions = target.config.max_position_embeddings

    def overhead(policy, clock: SteppedClock) -> float:
        return measure_step_overhead(target, draft, policy, 2, 0.5, "cpu", positions, clock=clock)

    # forwards take 1 ms each, the engine's own Python nothing: the stepped clock moves only then
    def forwards(model, inputs) -> float:
        return 0.001

    assert overhead(NoSpeculation(), SteppedClock(forwards)) == 0.0
    assert overhead(FixedLength(2), SteppedClock(forwards)) == 0.0
    clock = SteppedClock(forwards)
    assert overhead(SlowFixed(2, clock), clock) == pytest.approx(0.01, abs=1e-12)


class SlowAfterIdle:
    """Forward costs of a machine: `warm_s` per target forward and `draft_s` per draft forward,
    `every_call_s` more per target forward, and `after_idle_s` more for a target forward that
    comes over 50 ms after the previous one."""

    def __init__(self, target, after_idle_s: float, every_call_s: float = 0.0, warm_s: float = 0.02,
                 draft_s: float = 0.004) -> None:
        self.target = target
        self.after_idle_s, self.every_call_s = after_idle_s, every_call_s
        self.warm_s, self.draft_s = warm_s, draft_s
        self.clock = SteppedClock(self.cost)
        self.last_end = -1.0

    def cost(self, model, inputs) -> float:
        if model is not self.target:
            return self.draft_s
        woken = self.clock.time_s - self.last_end > 0.05
        spent = self.warm_s + self.every_call_s + (self.after_idle_s if woken else 0.0)
        self.last_end = self.clock.time_s + spent
        return spent

    def wake(self, draft) -> float:
        return self.measure(draft).factor

    def measure(self, draft) -> IdleWake:
        return measure_idle_wake(self.target, draft, FixedLength(2), 0.04, "cpu", samples=4, idle_s=0.2,
                                 clock=self.clock)

    def expected(self) -> float:
        """(a prefill after a wait) / (a warm prefill) − 1: a prefill is a target and a draft forward."""
        warm = self.warm_s + self.every_call_s + self.draft_s
        return (warm + self.after_idle_s) / warm - 1.0


def test_idle_wake_is_the_engines_prefill_after_a_wait_over_its_warm_prefills(tiny_models):
    target, draft = tiny_models
    # 200 ms more after a wait on a prefill of 24 ms: read exactly
    slow_after_idle = SlowAfterIdle(target, 0.2)
    assert slow_after_idle.wake(draft) == pytest.approx(slow_after_idle.expected(), rel=1e-9)
    assert slow_after_idle.expected() > 8
    # a machine slow on every call (30 ms) but no slower after a wait: no wake-up is read into it
    assert SlowAfterIdle(target, 0.0, every_call_s=0.03).wake(draft) == pytest.approx(0.0, abs=1e-9)
    # both together: the wake-up is measured against the slow warm prefills, 60 / (30 + 24 ms)
    both = SlowAfterIdle(target, 0.06, every_call_s=0.03)
    assert both.wake(draft) == pytest.approx(0.06 / 0.054, rel=1e-9)


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


class Oversleeping(SteppedClock):
    """The engine's clock on a machine whose sleeps end `late_s` after they were due."""

    def __init__(self, forward_cost, late_s: float) -> None:
        super().__init__(forward_cost)
        self.late_s = late_s
        self.woke = False  # a sleep ended and no step has run since

    def sleep(self, seconds: float) -> None:
        self.time_s += seconds + (self.late_s if seconds > 0 else 0.0)
        self.woke = True


def test_the_wake_up_outside_the_forwards_and_a_prefill_steps_host_time(tiny_models, monkeypatch):
    """The engine wakes 3 ms after the arrival it slept until, and admitting takes 1 ms at each
    step, 2 ms more right after a sleep: the measurement reads the warm prefill step's host time,
    and the woken step's 5 ms beyond it."""
    from specsim.engine.scheduler import Scheduler

    target, draft = tiny_models
    machine = SlowAfterIdle(target, 0.0)
    clock = Oversleeping(machine.cost, 0.003)
    machine.clock = clock
    admit = Scheduler.admit

    def slow_admit(self, now):
        clock.advance(0.001 + (0.002 if clock.woke else 0.0))
        clock.woke = False
        return admit(self, now)

    monkeypatch.setattr(Scheduler, "admit", slow_admit)
    wake = machine.measure(draft)
    assert wake.delay_s == pytest.approx(0.005, abs=1e-9)
    assert wake.prefill_step_overhead_s == pytest.approx(0.001, abs=1e-9)
    assert wake.factor == pytest.approx(0.0, abs=1e-9)
