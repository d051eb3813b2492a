"""Step-to-step jitter: a real engine's steps of the same shape do not take the same time (on the
2-core CPU, decode steps of the tiny pair at batch 4 over the median of their neighbours: p2.5
×0.83-0.95, p97.5 ×1.05-1.28 in seven readings — `benchmarks/wake_and_spread.py`, 2026-12-02).
A deterministic step time makes the tails of TTFT and TPOT too thin: a queue grows with the
variance of its service times, not only their mean.

The profile's `latency.step_time_spread` holds quantiles of a step's time over the median of the
same-shape steps around it (calibrate reads them from the engine's own steps). Each simulated
step takes the next factor of a seeded stream — one factor per step, in step order, whatever
path computes the step (one at a time or several fused into one wait), so both paths give the
same tables.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024  # factors drawn at a time


class StepJitter:
    def __init__(self, spread: np.ndarray, rng: np.random.Generator) -> None:
        self.spread = np.asarray(spread, dtype=np.float64)
        self.rng = rng
        self._factors = np.empty(0)
        self._position = 0

    def peek(self, count: int) -> np.ndarray:
        """The factors of the next `count` steps, not yet taken."""
        while self._position + count > len(self._factors):
            # the empirical quantile function at uniform draws: each quantile equally likely
            drawn = self.spread[self.rng.integers(0, len(self.spread), size=BLOCK)]
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
