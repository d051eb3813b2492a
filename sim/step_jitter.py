"""Step-to-step jitter: a real engine's steps of the same shape do not take the same time, and
the slow ones come in runs. On the 2-core CPU, decode steps of the tiny pair at batch 4 over their
run's median: p2.5 ×0.83-0.95, p97.5 ×1.05-1.28 (`benchmarks/wake_and_spread.py`, 2026-12-02),
lag-1 autocorrelation 0.75-0.84, and 32-step means 2.5-13 times as variable as independent draws
would make them (`benchmarks/step_memory.py`). A deterministic step time makes the tails of TTFT
and TPOT too thin: a queue grows with the variance of its service times, not only their mean;
and independent draws average out over a request's tens of steps, so its TPOT would hardly vary.

The profile's `latency.step_time_spread` holds quantiles of a step's time over the median of the
same-shape steps of its run (calibrate reads them from the engine's own steps), and
`latency.step_time_persistence` ρ how the factors stick: each step keeps the previous step's factor
with probability ρ, else takes a fresh draw from the quantiles. The factors' distribution stays the
quantiles' (a kept factor is itself a draw), the lag-j autocorrelation is ρ^j, slow spells last
1/(1 − ρ) steps on average. Each simulated step takes the next factor of a seeded stream — one
factor per step, in step order, whatever path computes the step (one at a time or several as one span
into one wait), so both paths give the same tables.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024  # factors drawn at a time


class StepJitter:
    def __init__(self, spread: np.ndarray, rng: np.random.Generator, persistence: float = 0.0) -> None:
        self.spread = np.asarray(spread, dtype=np.float64)
        self.rng = rng
        self.persistence = persistence
        self._factors = np.empty(0)
        self._position = 0

    def peek(self, count: int) -> np.ndarray:
        """The factors of the next `count` steps, not yet taken."""
        while self._position + count > len(self._factors):
            drawn = self._draw_block()
            self._factors = np.concatenate([self._factors[self._position:], drawn])
            self._position = 0
        return self._factors[self._position:self._position + count]

    def advance(self, count: int) -> None:
        """Take the factors of `count` steps (after `peek`)."""
        self._position += count

    def next(self) -> float:
        factor = float(self.peek(1)[0])
        self._position += 1
        return factor

    def _draw_block(self) -> np.ndarray:
        # the empirical quantile function at uniform draws: each quantile equally likely
        fresh = self.spread[self.rng.integers(0, len(self.spread), size=BLOCK)]
        if self.persistence == 0.0:  # no second draw: the stream of a profile without persistence
            return fresh
        renewed = self.rng.random(BLOCK) >= self.persistence
        if len(self._factors) == 0:
            renewed[0] = True  # the stream's first step has nothing to keep
        else:
            fresh = np.concatenate([self._factors[-1:], fresh])  # a kept factor crosses the block's edge
            renewed = np.concatenate([[True], renewed])
        # each step takes the fresh draw of the last step at or before it that renewed
        source = np.maximum.accumulate(np.where(renewed, np.arange(len(renewed)), 0))
        factors = fresh[source]
        return factors if len(self._factors) == 0 else factors[1:]
