"""Does a long-lived process serve slower than a fresh one? The same real run, alternately in one
process that keeps serving (as `validate` does) and in a fresh process each time.

    python benchmarks/process_age.py PROFILE [--rounds N] [--policy P] [--load L]

On the tiny real-weight pair (calibrate/tiny_pair.py), scenarios/validate-cpu.yaml at load L
(workload.rate_scale) under policy P: round i serves the run once in this process (which has
served i runs before) and once in a fresh child process, one after the other — never together, so
they never share the cores. PROFILE (e.g. a validate output's profile.json) feeds the policy's cost
model only. Printed per round and side: the run's median TPOT, its forward time per output token,
and the process's resident memory. The question: validate's real runs read slower than its
calibration at nearly every point, the later runs slower than the earlier; if the long-lived
process drifts away from the fresh ones, process state (memory, allocator, the garbage collector)
is a cause; if both move together, it is the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair
from realrun.serve import serve
from specsim.profile import load_profile
from specsim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "validate-cpu.yaml"


def one_run(profile_path: str, policy: str, load: float) -> dict[str, float]:
    scenario = load_scenario(SCENARIO).with_fields({"workload.rate_scale": load})
    run = serve(scenario, policy, scenario.seeds[0], SHARED_DIR / "target", SHARED_DIR / "draft",
                show_progress=False, profile=load_profile(profile_path),
                prompts=SHARED_DIR / "prompts.jsonl")
    output_tokens = float(run.requests["output_tokens"].sum())
    return {"median_tpot_ms": float(np.nanmedian(run.requests["tpot_s"])) * 1e3,
            "forward_ms_per_token": run.details["forward_s"] / output_tokens * 1e3,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--policy", default="fixed:k=4")
    parser.add_argument("--load", type=float, default=1.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.child:
        print(json.dumps(one_run(args.profile, args.policy, args.load)))
        return
    make_tiny_pair(SHARED_DIR)
    command = [sys.executable, __file__, args.profile, "--policy", args.policy, "--load", str(args.load),
               "--child"]
    print(f"{args.policy} @ load {args.load:g}, tiny pair, one thread; long-lived process vs a fresh one")
    print(f"{'round':>5}  {'side':<10}{'median TPOT ms':>15}{'forward ms/token':>18}{'max RSS MiB':>13}")
    ratios = []
    for round_index in range(args.rounds):
        sides = {"long-lived": one_run(args.profile, args.policy, args.load)}
        child = subprocess.run(command, capture_output=True, text=True, check=True)
        sides["fresh"] = json.loads(child.stdout.strip().splitlines()[-1])
        for side, reading in sides.items():
            print(f"{round_index + 1:>5}  {side:<10}{reading['median_tpot_ms']:>15.2f}"
                  f"{reading['forward_ms_per_token']:>18.2f}{reading['rss_mib']:>13.0f}", flush=True)
        ratios.append(sides["long-lived"]["forward_ms_per_token"] / sides["fresh"]["forward_ms_per_token"])
    print("forward time per token, long-lived / fresh, by round: " + " ".join(f"{r:.2f}" for r in ratios))


if __name__ == "__main__":
    main()
