"""Is the quick CPU grid's prefill axis fine enough between its points?

    python benchmarks/prefill_points.py [--threads N] [--repeats R] [--axis 16,64,256]

On the tiny real-weight pair (calibrate/tiny_pair.py), R times in a row: calibrate's own prefill
measurement (`calibrate.latency.measure_prefill`, the quick grid's timer) at batch 1 and 4 over
16, 24, 32, 48, 64, 96, 128 and 256 prompt tokens, all in one round-robin so that every point sees
the same moment of the machine. Printed: each point off the axis — its measured time (target +
draft, as a speculative engine prefills) against the straight line the simulator draws through
the axis points around it (its prefill grid interpolates linearly in prompt tokens) — the error
the axis adds to validate-cpu's 16-96-token prompts. `--axis`: default the quick CPU grid's
(calibrate/grid.py); it was 16,64,256 until 2026-12-02.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from calibrate.grid import default_grid
from calibrate.latency import measure_prefill, warm_up
from calibrate.timing import Timer
from calibrate.tiny_pair import load_tiny_pair

BATCHES = (1, 4)
PROMPTS = (16, 24, 32, 48, 64, 96, 128, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--axis", type=lambda text: tuple(int(p) for p in text.split(",")),
                        default=default_grid("cpu", True, 4).prefill_prompt_tokens)
    args = parser.parse_args()
    if not set(args.axis) <= set(PROMPTS) or list(args.axis) != sorted(args.axis):
        parser.error(f"--axis: ascending prompt lengths out of {PROMPTS}")
    torch.set_num_threads(args.threads)
    target, draft = load_tiny_pair()
    between = [p for p in PROMPTS if p not in args.axis]
    print(f"tiny pair, {args.threads} thread(s); measured / line through the axis {args.axis} (ms), "
          "target + draft")
    print(f"{'time':<10}{'batch':>6}" + "".join(f"{f'{p} tokens':>22}" for p in between))
    for _ in range(args.repeats):
        for model in (target, draft):
            warm_up(model, "cpu", 0.3)
        quick = default_grid("cpu", quick=True, max_draft_tokens=4)  # as validate --calibrate times
        timer = Timer("cpu", quick.warmup, quick.repeats, quick.budget_s, quick.passes)
        clock = time.strftime("%H:%M:%S", time.gmtime())
        target_s, draft_s = measure_prefill(target, draft, BATCHES, PROMPTS, timer, torch.float32, "cpu")
        for b, batch in enumerate(BATCHES):
            measured = np.asarray(target_s[b]) + np.asarray(draft_s[b])
            on_axis = [measured[PROMPTS.index(p)] for p in args.axis]
            cells = []
            for p in between:
                value = measured[PROMPTS.index(p)]
                line = float(np.interp(p, args.axis, on_axis))
                cells.append(f"{value * 1e3:.2f} / {line * 1e3:.2f} ({line / value - 1:+.0%})")
            print(f"{clock:<10}{batch:>6}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
