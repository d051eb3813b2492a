"""Does a forward cost the same inside the engine's serving loop as in calibrate's grid?

    python benchmarks/grid_vs_served.py [--threads N] [--repeats R]

On the tiny real-weight pair (calibrate/tiny_pair.py), R times in a row, within the same minute:
calibrate's decode grid (`measure_decode`, the quick grid's timer) for one request at contexts
16-256, then the real engine serving one request with plain decoding for 2 s (calibrate's
`decode_steps`), then the grid again. Printed: the served steps' target forward (`verify_s`)
over the grid's price at the same context (linear between the grid's contexts, as the simulator
reads it), median and quartiles, against each grid — above 1 means the engine's forwards cost
more than the back-to-back forwards the profile is built from.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from calibrate.grid import default_grid
from calibrate.latency import measure_decode, warm_up
from calibrate.serving import decode_steps
from calibrate.timing import Timer
from calibrate.tiny_pair import load_tiny_pair
from specsim.policy.simple import NoSpeculation

CONTEXTS = (16, 64, 128, 256)
PROMPT_TOKENS = 16  # calibrate.serving's prompts: step i decodes at context 16 + i


def grid_s(target, draft) -> np.ndarray:
    quick = default_grid("cpu", quick=True, max_draft_tokens=4)  # as validate --calibrate times
    timer = Timer("cpu", quick.warmup, quick.repeats, quick.budget_s, quick.passes)
    times = measure_decode(target, draft, (1,), (1, 2), CONTEXTS, timer, torch.float32, "cpu")
    return np.asarray(times.verify_s)[0, 0]  # batch 1, one token, by context


def quartiles(served_s: np.ndarray, context: np.ndarray, grid: np.ndarray) -> str:
    ratio = served_s / np.interp(context, CONTEXTS, grid)
    return "/".join(f"×{value:.2f}" for value in np.percentile(ratio, (25, 50, 75)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target, draft = load_tiny_pair()
    positions = target.config.max_position_embeddings
    print(f"tiny pair, {args.threads} thread(s); served verify_s / grid price at its context")
    print(f"{'time':<10}{'grid@64 ms':>11}{'steps':>7}{'vs grid before: p25/p50/p75':>30}"
          f"{'vs grid after: p25/p50/p75':>29}")
    for _ in range(args.repeats):
        warm_up(target, "cpu", 0.3)
        clock = time.strftime("%H:%M:%S", time.gmtime())
        before = grid_s(target, draft)
        steps = decode_steps(target, draft, NoSpeculation(), 1, 2.0, "cpu", positions)
        after = grid_s(target, draft)
        context = PROMPT_TOKENS + np.arange(1, len(steps) + 1)
        served = steps["verify_s"].to_numpy()
        against = [quartiles(served, context, grid) for grid in (before, after)]
        print(f"{clock:<10}{before[1] * 1e3:>11.2f}{len(steps):>7}{against[0]:>30}{against[1]:>29}")


if __name__ == "__main__":
    main()
