"""Each draft pass of the real engine next to the profile's price for it.

    python benchmarks/draft_passes.py --profile P [--threads N] [--duration S] [--policies P ...]

On the tiny real-weight pair (calibrate/tiny_pair.py), serves scenarios/validate-cpu.yaml at
load 1.0 with each policy, times every `RealSpeculation.draft_pass` call (what the engine books as
draft time) and groups them: a step's first pass by the tokens it feeds per request (1, 2 after a
full acceptance, 3+ after steps without drafting), the passes after it (the second apart from
the rest), and subset passes (not every row drafting). Next to each group's median: what the
profile predicts for the same calls — `draft_first_pass_s` for first passes, `draft_step_s` for
the others (a profile without a first-pass grid prices every pass as a draft step) — and the
ratio of the sums.
P: a profile calibrated on the pair (validate's OUT/profile.json, or `specsim calibrate --quick`).
Timings on shared CPUs move by ±10-20% between runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair
from realrun import backend as backend_module
from realrun.serve import serve
from specsim.profile import load_profile
from specsim.profile.latency import LatencyModel
from specsim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "validate-cpu.yaml"


class PassRecorder:
    """Wraps the backend's draft_pass: each call's group, measured time and predicted time."""

    def __init__(self, latency: LatencyModel) -> None:
        self.latency = latency
        self.passes: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def install(self) -> None:
        draft_pass = backend_module.RealSpeculation.draft_pass
        latency = self.latency

        def timed(speculation, active: np.ndarray, position: int):
            batch = len(speculation.rows)
            chosen = np.flatnonzero(active)
            lengths = speculation.draft_kv.lengths[:batch].tolist()
            context = float(np.mean([lengths[i] for i in chosen]))
            begin = time.perf_counter()
            output = draft_pass(speculation, active, position)
            measured_s = time.perf_counter() - begin
            if position == 0:
                fed = max(len(speculation.rows[i]) - lengths[i] for i in chosen)
                predicted_s = latency.draft_first_pass_s(len(chosen), fed, context)
                group = f"first, {min(fed, 3)}{'+' if fed >= 3 else ''} token{'s' if fed > 1 else ''}"
            else:
                predicted_s = latency.draft_step_s(len(chosen), context)
                group = "later, 2nd pass" if position == 1 else "later, 3rd+ pass"
            if len(chosen) < batch:
                group += ", subset"
            self.passes[group].append((measured_s, predicted_s))
            return output

        backend_module.RealSpeculation.draft_pass = timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="profile JSON calibrated on the tiny pair")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of arrivals per policy")
    parser.add_argument("--policies", nargs="+", default=["fixed:k=2", "fixed:k=4", "adaptive"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target_dir, draft_dir = make_tiny_pair(SHARED_DIR)
    profile = load_profile(args.profile)
    scenario = load_scenario(SCENARIO).with_fields({"workload.rate_scale": 1.0,
                                                     "workload.duration_s": args.duration})
    recorder = PassRecorder(LatencyModel(profile.latency))
    recorder.install()
    first_pass = "a first-pass grid" if profile.latency.draft_first_pass is not None else "no first-pass grid"
    print(f"tiny pair, {scenario.name} at load 1.0, {args.duration:g} s of arrivals, {args.threads} "
          f"thread(s); profile {args.profile} ({first_pass}); median ms per pass")
    print(f"{'policy':<12}{'pass':<26}{'passes':>7}{'real':>8}{'profile':>9}{'real/profile':>14}")
    for spec in args.policies:
        recorder.passes.clear()
        serve(scenario, spec, 0, target_dir, draft_dir, show_progress=False, profile=profile)
        groups = sorted(recorder.passes.items())
        every = [call for _, calls in groups for call in calls]
        for name, calls in [*groups, ("all", every)]:
            measured = [m for m, _ in calls]
            predicted = [p for _, p in calls]
            print(f"{spec:<12}{name:<26}{len(calls):>7}{statistics.median(measured) * 1e3:>8.2f}"
                  f"{statistics.median(predicted) * 1e3:>9.2f}{sum(measured) / sum(predicted):>14.2f}")


if __name__ == "__main__":
    main()
