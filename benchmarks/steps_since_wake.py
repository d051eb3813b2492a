"""Does the engine stay slow for several steps after an idle wait, or only for the one that wakes it?

    python benchmarks/steps_since_wake.py VALIDATE_OUT

Reads a `specsim validate` output's saved real runs (plain decoding, `none`, at each load) and
prints the median forward time (draft + verify) of decode steps of one request, by how many steps
have run since the engine last sat idle (a gap of more than 50 ms between steps) — the simulator
slows only the first step after idle (`latency.idle_wake_factor`). Flat rows mean the wake-up
does not linger; the last column is the simulator's (with the real acceptance replayed) median
for the same steps, for scale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from specsim.results import read_result

IDLE_GAP_S = 0.05
BUCKETS = ((1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, None))


def steps_since_idle(steps) -> np.ndarray:
    ends = (steps["t_s"] + steps["step_s"]).to_numpy()
    gaps = np.r_[np.inf, steps["t_s"].to_numpy()[1:] - ends[:-1]]
    since = np.zeros(len(steps), dtype=int)
    count = 0
    for index, gap in enumerate(gaps):
        count = 0 if gap > IDLE_GAP_S else count + 1
        since[index] = count
    return since


def one_request_decode(steps):
    return (steps["prefill_tokens"] == 0) & (steps["batch_size"] == 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("validate_out", type=Path)
    args = parser.parse_args()
    labels = [f"{low}-{high}" if high else f"{low}+" for low, high in BUCKETS]
    print("median forward ms of one-request decode steps, by steps since the engine was idle (count)")
    print(f"{'run':<26}" + "".join(f"{label:>13}" for label in labels) + f"{'sim replay':>12}")
    for folder in sorted((args.validate_out / "runs").glob("none@*")):
        sim_steps = read_result(folder / "sim-replay").steps
        sim_forward_s = (sim_steps["draft_s"] + sim_steps["verify_s"])[one_request_decode(sim_steps)]
        sim_ms = float(np.median(sim_forward_s)) * 1e3
        for run in ("real", "real-repeat"):
            steps = read_result(folder / run).steps
            since = steps_since_idle(steps)
            decode = one_request_decode(steps).to_numpy()
            forward_ms = (steps["draft_s"] + steps["verify_s"]).to_numpy() * 1e3
            cells = []
            for low, high in BUCKETS:
                chosen = decode & (since >= low) & (since <= (high or since.max()))
                cells.append(f"{np.median(forward_ms[chosen]):.1f} ({chosen.sum()})" if chosen.any() else "–")
            row = f"{f'{folder.name} {run}':<26}" + "".join(f"{cell:>13}" for cell in cells)
            print(row + f"{sim_ms:>12.1f}")


if __name__ == "__main__":
    main()
