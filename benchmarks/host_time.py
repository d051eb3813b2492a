"""How much host (Python) time does the real engine spend per step beyond its model forwards?

    python benchmarks/host_time.py [--threads N] [--duration S] [--policies P ...] [--profile P]

On the tiny real-weight pair (calibrate/tiny_pair.py), serves scenarios/validate-cpu.yaml at
load 1.0 with each policy and prints, as medians:
1. per draft pass and per verify: the engine's backend call (`RealSpeculation.draft_pass` /
   `verify`, what the engine books as draft/verify time) next to the model forward inside it —
   the difference is the host work calibrate's decode grid now times with each forward;
2. per step, the host time outside the backend calls and prefill (step − draft − verify −
   prefill, from the engine's steps table), next to what `calibrate.serving.measure_step_overhead`
   reads for the same policy at batch 2 — the profile's `step_overhead_s` / `plain_step_overhead_s`.
The policies' cost model is `--profile` (default: the scenario's); an adaptive policy's host time
depends on it — validate passes the profile calibrated on the pair (`OUT/profile.json`).
Timings on shared CPUs move by ±10-20% between runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from calibrate.serving import measure_step_overhead
from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair
from realrun import backend as backend_module
from realrun.clock import Clock
from realrun.serve import serve
from specsim.policy import make_policy
from specsim.profile import load_profile
from specsim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "validate-cpu.yaml"


class CallRecorder:
    """Wraps the backend's draft_pass/verify and Clock.forward: each call's time and the time of the
    last forward inside it."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[float, float]]] = {"draft_pass": [], "verify": []}
        self.last_forward_s = 0.0

    def install(self) -> None:
        forward = Clock.forward

        def timed_forward(clock, model, **inputs):
            begin = time.perf_counter()
            output = forward(clock, model, **inputs)
            self.last_forward_s = time.perf_counter() - begin
            return output

        Clock.forward = timed_forward
        for name in self.calls:
            method = getattr(backend_module.RealSpeculation, name)

            def timed_call(speculation, *args, method=method, name=name):
                begin = time.perf_counter()
                output = method(speculation, *args)
                self.calls[name].append((time.perf_counter() - begin, self.last_forward_s))
                return output

            setattr(backend_module.RealSpeculation, name, timed_call)


def ms(values) -> str:
    return f"{statistics.median(values) * 1e3:8.2f}" if len(values) else f"{'–':>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of arrivals per policy")
    parser.add_argument("--policies", nargs="+", default=["none", "fixed:k=4", "adaptive"])
    parser.add_argument("--profile", help="profile JSON for the policies' cost model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM

    target_dir, draft_dir = make_tiny_pair(SHARED_DIR)
    target = AutoModelForCausalLM.from_pretrained(target_dir, dtype=torch.float32).eval()
    draft = AutoModelForCausalLM.from_pretrained(draft_dir, dtype=torch.float32).eval()
    load = {"workload.rate_scale": 1.0, "workload.duration_s": args.duration}
    scenario = load_scenario(SCENARIO).with_fields(load)
    profile = load_profile(args.profile) if args.profile else None
    recorder = CallRecorder()
    recorder.install()
    print(f"tiny pair, {scenario.name} at load 1.0, {args.duration:g} s of arrivals, {args.threads} "
          "thread(s); median ms")
    print(f"{'policy':<12}{'draft call':>11}{'forward':>9}{'verify call':>12}{'forward':>9}"
          f"{'step other':>11}{'calibrated':>11}")
    for spec in args.policies:
        for calls in recorder.calls.values():
            calls.clear()
        steps = serve(scenario, spec, 0, target_dir, draft_dir, show_progress=False, profile=profile).steps
        other = (steps["step_s"] - steps["draft_s"] - steps["verify_s"] - steps["prefill_s"]).tolist()
        draft_calls, verify_calls = list(recorder.calls["draft_pass"]), list(recorder.calls["verify"])
        calibrated_s = measure_step_overhead(target, draft, make_policy(spec), 2, 1.0, "cpu",
                                             target.config.max_position_embeddings)
        print(f"{spec:<12}{ms([c for c, _ in draft_calls]):>11}{ms([f for _, f in draft_calls]):>9}"
              f"{ms([c for c, _ in verify_calls]):>12}{ms([f for _, f in verify_calls]):>9}"
              f"{ms(other):>11}{calibrated_s * 1e3:>11.2f}")

if __name__ == "__main__":
    main()
