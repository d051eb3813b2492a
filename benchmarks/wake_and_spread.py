"""The real engine's wake-up after idle and its step-to-step spread, each read two ways.

    python benchmarks/wake_and_spread.py --profile P [--threads N] [--repeats R]

On the tiny real-weight pair (calibrate/tiny_pair.py), R times in a row:
1. wake-up: calibrate's measurement (`calibrate.serving.measure_idle_wake`: the engine's prefill
   after 0.5 s idle over its prefills on a warm engine in the same seconds), next to the earlier
   reading against the profile's prefill grid (the woken prefills over the grid's price for the
   same prompt) — the grid was measured at another moment, so a spell of the machine counts as
   wake-up there;
2. step spread: the decode steps calibrate serves for its generic overheads (fixed k=4 and plain,
   batch 4, a second each), each step's time over the median of the 9 steps around it (how
   calibrate read `step_time_spread` on 2026-12-02 before `step_time_persistence`) and over its
   whole run's median (how it reads it since, and read it first) — p2.5, p97.5 and mean of
   each; and the longest block of consecutive steps above 1.25× their run's median (independent
   draws would rarely make blocks; `benchmarks/step_memory.py` measures the memory).
P: a profile calibrated on the pair (validate's OUT/profile.json, or `specsim calibrate --quick`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from calibrate.serving import (
    IDLE_S,
    RUN_S,
    SPREAD_QUANTILES,
    WAKE_PROMPT_TOKENS,
    decode_steps,
    local_factors,
    measure_idle_wake,
    serve_briefly,
    step_time_spread,
)
from calibrate.tiny_pair import load_tiny_pair
from specsim.policy.simple import FixedLength, NoSpeculation
from specsim.profile import load_profile
from specsim.profile.latency import LatencyModel

BATCH = 4


def wake_against_grid(target, draft, latency: LatencyModel) -> float:
    """Woken prefills over the grid's price: one request at a time, 0.5 s apart (the older reading)."""
    warm_s = latency.prefill_s(1, float(WAKE_PROMPT_TOKENS), True)
    arrival_s = np.arange(10) * (IDLE_S + 4 * warm_s)
    steps = serve_briefly(target, draft, FixedLength(4), arrival_s, WAKE_PROMPT_TOKENS, 3, 1,
                          arrival_s[-1] + 60.0, "cpu")
    prefills = steps[steps["prefill_tokens"] > 0]["prefill_s"].to_numpy()[1:]  # the first: no sleep
    return float(np.median(prefills) / warm_s)


def local_spread(runs, window: int = 9) -> np.ndarray:
    ratios = np.concatenate([local_factors(run, window) for run in runs])
    return np.quantile(ratios, (np.arange(SPREAD_QUANTILES) + 0.5) / SPREAD_QUANTILES)


def longest_slow_block(runs, above: float = 1.25) -> int:
    longest = 0
    for run in runs:
        current = 0
        for ratio in run["step_s"].to_numpy() / np.median(run["step_s"]):
            current = current + 1 if ratio > above else 0
            longest = max(longest, current)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="profile JSON calibrated on the tiny pair")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target, draft = load_tiny_pair()
    latency = LatencyModel(load_profile(args.profile).latency)
    positions = target.config.max_position_embeddings
    print(f"tiny pair, {args.threads} thread(s), profile {args.profile}")
    print(f"{'time':<10}{'wake: vs warm':>14}{'vs grid':>9}{'steps':>7}"
          f"{'local p2.5/p97.5/mean':>24}{'whole-run p2.5/p97.5/mean':>28}{'slow block':>12}")
    for _ in range(args.repeats):
        clock = time.strftime("%H:%M:%S", time.gmtime())
        relative = 1 + measure_idle_wake(target, draft, FixedLength(4),
                                         latency.prefill_s(1, float(WAKE_PROMPT_TOKENS), True), "cpu").factor
        against_grid = wake_against_grid(target, draft, latency)
        runs = [decode_steps(target, draft, policy, BATCH, RUN_S, "cpu", positions)
                for policy in (FixedLength(4), NoSpeculation())]
        local = local_spread(runs)
        whole = np.asarray(step_time_spread(runs))
        steps = sum(len(run) for run in runs)

        def three(values: np.ndarray) -> str:
            return f"×{values[0]:.2f}/×{values[-1]:.2f}/×{values.mean():.2f}" if len(values) else "–"

        print(f"{clock:<10}{f'×{relative:.2f}':>14}{f'×{against_grid:.2f}':>9}{steps:>7}"
              f"{three(local):>24}{three(whole):>28}{longest_slow_block(runs):>12}")


if __name__ == "__main__":
    main()
