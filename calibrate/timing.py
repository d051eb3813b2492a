"""Timing forwards: warm-up, repeats, median — CUDA events on a GPU, perf_counter on a CPU.

Shared machines drift: on the 2-core CPUs a neighbour's job, on the GPU host the Python launch
speed (small-batch transformers forwards are CPU-bound) moves by tens of percent over minutes.
Two defences: points that can share a time window are timed round-robin (`pass_samples`), and the
whole grid is measured in several passes, in alternating order, with the median taken over all
passes' samples — a slow spell then spoils a minority of a point's samples, not the point. A
calibration alternates the decode and prefill grids' passes, so each grid spans its whole length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Timer:
    device: str  # "cpu" or "cuda"
    warmup: int  # untimed calls of every point, per pass
    repeats: int  # timed calls of every point, over all passes
    budget_s: float  # per point, over all passes: past it (and min_repeats) a pass stops early
    passes: int = 1
    min_repeats: int = 3
    fewest_repeats: int | None = None  # the smallest number of samples any point got so far
    clock: Callable[[], float] = time.perf_counter  # on a CPU; a test gives one it advances itself

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
        begin = self.clock()
        run()
        return self.clock() - begin

    def pass_samples(self, runs: list[Callable[[], object]],
                     reset: Callable[[int], object] | None = None) -> list[list[float]]:
        """One pass: times of each callable, repeats round-robin over the callables so that a burst
        of load hits all of them alike. `reset(i)` runs after each call of runs[i], untimed."""
        repeats = math.ceil(self.repeats / self.passes)
        least = math.ceil(self.min_repeats / self.passes)
        budget_s = self.budget_s / self.passes * len(runs)
        times: list[list[float]] = [[] for _ in runs]
        for _ in range(self.warmup):
            for index, run in enumerate(runs):
                run()
                if reset is not None:
                    reset(index)
        begin = self.clock()
        for repeat in range(repeats):
            for index, run in enumerate(runs):
                times[index].append(self.once(run))
                if reset is not None:
                    reset(index)
            if repeat + 1 >= least and self.clock() - begin > budget_s:
                break
        return times

    def median(self, samples: list[float]) -> float:
        self.fewest_repeats = len(samples) if self.fewest_repeats is None else min(self.fewest_repeats,
                                                                                   len(samples))
        return float(np.median(samples))

    def medians(self, runs: list[Callable[[], object]],
                reset: Callable[[int], object] | None = None) -> list[float]:
        """All passes back to back (for points measured once, outside a grid)."""
        pooled: list[list[float]] = [[] for _ in runs]
        for _ in range(self.passes):
            for index, times in enumerate(self.pass_samples(runs, reset)):
                pooled[index].extend(times)
        return [self.median(samples) for samples in pooled]
