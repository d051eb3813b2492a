"""Do the real engine's slow steps come alone or in spells? The step spread's memory, measured.

    python benchmarks/step_memory.py [--threads N] [--seconds S] [--repeats R]

On the tiny real-weight pair (calibrate/tiny_pair.py), R times in a row: the engine serves
fixed k=4 and plain decoding at batch 4 for S seconds each (calibrate's `decode_steps`). Each
step's time is read two ways: over its run's median (calibrate's `run_factors`, what
`step_time_spread` and `step_time_persistence` are read from) and over the median of the 9 steps
around it (calibrate's reading on 2026-12-02, before the persistence). Printed per reading:

- lag-1 and lag-4 autocorrelation of the factors (0 for independent draws);
- the variance inflation of 32-step means: var(mean of 32 consecutive factors) × 32 / var(factor)
  — 1 for independent draws; a request's TPOT is such a mean, so this is how much wider the
  per-request TPOT spread is than independent draws make it;
- for the run-median reading, calibrate's persistence ρ and the inflation of 32-step means
  the simulator's sticky draws give at that ρ, 1 + 2 Σ_j (1 − j/32) ρ^j.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from calibrate.serving import decode_steps, local_factors, run_factors, step_time_persistence
from calibrate.tiny_pair import load_tiny_pair
from specsim.policy.simple import FixedLength, NoSpeculation

BATCH = 4
MEAN_OF = 32
LOCAL_WINDOW = 9


def autocorrelation(values: np.ndarray, lag: int) -> float:
    centred = values - values.mean()
    return float(np.dot(centred[:-lag], centred[lag:]) / np.dot(centred, centred))


def inflation(values: np.ndarray, span: int) -> float:
    means = np.convolve(values, np.ones(span) / span, mode="valid")
    return float(means.var() * span / values.var())


def sticky_inflation(persistence: float, span: int) -> float:
    lags = np.arange(1, span)
    return float(1 + 2 * np.sum((1 - lags / span) * persistence**lags))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target, draft = load_tiny_pair()
    positions = target.config.max_position_embeddings
    print(f"tiny pair, {args.threads} thread(s), batch {BATCH}, {args.seconds:g} s per policy")
    print(f"{'':<27}{'over the run median':^38}{'over 9 steps around':^24}")
    print(f"{'time':<10}{'policy':<11}{'steps':>6}{'lag1':>7}{'lag4':>7}{f'infl.{MEAN_OF}':>9}{'rho':>6}"
          f"{'sticky':>9}{'lag1':>8}{'lag4':>7}{f'infl.{MEAN_OF}':>9}")
    for _ in range(args.repeats):
        for policy in (FixedLength(4), NoSpeculation()):
            clock = time.strftime("%H:%M:%S", time.gmtime())
            run = decode_steps(target, draft, policy, BATCH, args.seconds, "cpu", positions)
            whole = run_factors(run)
            local = local_factors(run, LOCAL_WINDOW)
            rho = step_time_persistence([run])
            print(f"{clock:<10}{policy.label():<11}{len(whole):>6}"
                  f"{autocorrelation(whole, 1):>7.2f}{autocorrelation(whole, 4):>7.2f}"
                  f"{inflation(whole, MEAN_OF):>9.2f}{rho:>6.2f}{sticky_inflation(rho, MEAN_OF):>9.2f}"
                  f"{autocorrelation(local, 1):>8.2f}{autocorrelation(local, 4):>7.2f}"
                  f"{inflation(local, MEAN_OF):>9.2f}")


if __name__ == "__main__":
    main()
