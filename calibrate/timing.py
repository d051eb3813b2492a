"""Timing forwards: warm-up, repeats, median — CUDA events on a GPU, perf_counter on a CPU."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Timer:
    device: str  # "cpu" or "cuda"
    warmup: int
    repeats: int
    min_repeats: int = 3
    budget_s: float = 2.0  # per timed point: after min_repeats, stop once this much time went by
    fewest_repeats: int | None = None  # the smallest number of repeats any point got so far

    @property
    def name(self) -> str:
        return "cuda-events" if self.device == "cuda" else "perf_counter"

    def once(self, run: Callable[[], object]) -> float:
        if self.device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            run()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        begin = time.perf_counter()
        run()
        return time.perf_counter() - begin

    def medians(self, runs: list[Callable[[], object]], reset: Callable[[int], object] | None = None
                ) -> list[float]:
        """Median time of each callable. Repeats go round-robin over the callables, so a burst of
        load from a neighbour on a shared machine hits all of them alike instead of one point.
        `reset(i)` runs after every call of runs[i], outside the timed region (a cache crop)."""
        times: list[list[float]] = [[] for _ in runs]
        for _ in range(self.warmup):
            for index, run in enumerate(runs):
                run()
                if reset is not None:
                    reset(index)
        begin = time.perf_counter()
        for repeat in range(self.repeats):
            for index, run in enumerate(runs):
                times[index].append(self.once(run))
                if reset is not None:
                    reset(index)
            if repeat + 1 >= self.min_repeats and time.perf_counter() - begin > self.budget_s * len(runs):
                break
        done = len(times[0])
        self.fewest_repeats = done if self.fewest_repeats is None else min(self.fewest_repeats, done)
        return [float(np.median(t)) for t in times]
