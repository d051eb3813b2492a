"""How fast does the simulator simulate? Prints one row per (scenario, policy):

    steps/s      engine steps simulated per wall second (all replicas together)
    × simpy      steps/s as a share of a bare SimPy timeout loop timed in the same process just
                 before (the machine's speed drifts; the ratio much less): the goal is ≥ 0.10

and, per scenario and engine, a floor row: `fixed:k=4` asked at every step (no spans), what any
policy that decides each step pays before its own work
    requests/s   requests finished per wall second
    sim/wall     simulated seconds per wall second

then one-hour 4-replica bursty traces (targets: under 10 s wall with `none` and `fixed:k=4`,
under 60 s with `adaptive`, `goodput` and `slo_customized`, chains and trees), each in a fresh
process so that its peak resident memory (target ≤ 2 GiB) and the size of its tables are its own, and how long
generating an hour of traffic at 20 req/s takes. Each row runs on the H100 roofline as a fused
engine (one forward per step, vLLM-like) and as separate forwards (`--engines`).

    python benchmarks/sim_speed.py                 # full run (a quarter of an hour)
    python benchmarks/sim_speed.py --quick         # short scenarios, no one-hour traces
    python benchmarks/sim_speed.py path/to/scenario.yaml --policies none fixed:k=4

Scenarios are built in code (an MMPP bursty arrival) so the benchmark does not depend on any
scenario file; a YAML scenario path may be given instead. Timings are wall-clock on this machine:
run it on an idle core and repeat (`--repeats`) to take the median.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import simulate
from sim.sampling import SampledSpeculation
from specsim.policy import POLICIES
from specsim.profile import Profile, load_profile
from specsim.scenario import Scenario, build_requests, load_scenario, scenario_from_dict
from specsim.workload import WorkloadSpec, generate_requests

CATEGORIES = {"chat": 0.4, "code": 0.2, "summarisation": 0.15, "math": 0.1, "translation": 0.1,
              "retrieval": 0.05}


ROOFLINE_PROFILE = "h100-llama2-7b-llama-68m"


def bursty_scenario(replicas: int, duration_s: float, name: str = "bursty") -> Scenario:
    """MMPP traffic switching between a calm and a burst state, scaled with the replica count;
    lognormal prompt and output lengths; an H100 / Llama-2-7B profile."""
    per_replica_calm, per_replica_burst = 6.0, 20.0  # requests/s per replica
    raw: dict[str, Any] = {
        "name": name,
        # the roofline profile: a fused engine's short steps, so many steps per simulated second
        "profile": ROOFLINE_PROFILE,
        "cluster": {"replicas": replicas, "router": "least_outstanding_tokens", "max_batch_size": 64,
                    "max_batch_tokens": 8192},
        "workload": {
            "duration_s": duration_s,
            "arrival": {"kind": "mmpp", "states": [
                {"rate": per_replica_calm * replicas, "mean_dwell_s": 60.0},
                {"rate": per_replica_burst * replicas, "mean_dwell_s": 15.0},
            ]},
            "prompt_tokens": {"kind": "lognormal", "median": 400, "sigma": 0.8, "max": 3000},
            "output_tokens": {"kind": "lognormal", "median": 180, "sigma": 0.7, "max": 1000},
            "categories": CATEGORIES,
        },
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
        "policies": ["none"],
        "drain_s": 600.0,
    }
    return scenario_from_dict(raw, f"<{name}>")


# slo_customized: the goal named its sequence form (the default then); the tree form,
# the default since, is timed against the same goal
HOUR_TARGETS_S = {"none": 10.0, "fixed:k=4": 10.0, "adaptive": 60.0, "goodput": 60.0,
                  "slo_customized:tree=false": 60.0, "slo_customized": 60.0}
PEAK_MEMORY_TARGET_BYTES = 2 * 1024**3


def bare_simpy_timeouts_per_s(timeouts: int = 200_000) -> float:
    """A SimPy process doing nothing but wait: the pace of the event loop on this machine now."""
    env = simpy.Environment()

    def ticker() -> Any:
        for _ in range(timeouts):
            yield env.timeout(1e-3)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return timeouts / (time.perf_counter() - start)


def measure(scenario: Scenario, policy: str, seed: int, repeats: int, profile: Profile) -> dict[str, Any]:
    requests = build_requests(scenario, seed)
    walls, rows = [], []
    for _ in range(repeats):
        loop_rate = bare_simpy_timeouts_per_s()
        start = time.perf_counter()
        result = simulate(scenario, policy, seed, profile=profile, requests=requests)
        walls.append(time.perf_counter() - start)
        rows.append(speed_row(result, walls[-1], loop_rate))
    return rows[walls.index(statistics.median_low(walls))]


FLOOR_LABEL = "floor (k=4 per step)"


def measure_floor(scenario: Scenario, seed: int, repeats: int, profile: Profile) -> dict[str, Any]:
    """`fixed:k=4` asked at every step, as the adaptive policies are, instead of run in spans of
    steps known ahead: the scheduler, sampling, pricing and records of a step whose policy does
    almost nothing — the floor under every policy that decides each step (the tests' switch)."""
    SampledSpeculation.span_steps = False
    try:
        return measure(scenario, "fixed:k=4", seed, repeats, profile)
    finally:
        SampledSpeculation.span_steps = True


def speed_row(result: Any, wall_s: float, loop_rate: float) -> dict[str, Any]:
    steps = len(result.steps)
    simulated = float(result.details["simulated_until_s"])
    finished = int(result.requests["finish_s"].notna().sum())
    return {"steps": steps, "requests": finished, "simulated_s": simulated, "wall_s": wall_s,
            "steps_per_s": steps / wall_s, "simpy_ratio": steps / wall_s / loop_rate,
            "requests_per_s": finished / wall_s,
            "sim_per_wall": simulated / wall_s}


def workload_generation_s(repeats: int = 3) -> float:
    """Best of `repeats`: one hour of Poisson arrivals at 20 req/s, lognormal lengths correlated
    with the prompt (about 72,000 requests)."""
    spec = WorkloadSpec.model_validate({
        "duration_s": 3600, "arrival": {"kind": "poisson", "rate": 20.0},
        "prompt_tokens": {"kind": "lognormal", "median": 400, "sigma": 1.0, "max": 4096},
        "output_tokens": {"kind": "lognormal", "median": 200, "sigma": 0.8, "correlation_with_prompt": 0.3},
    })
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        generate_requests(spec, np.random.default_rng(0), Path("."))
        best = min(best, time.perf_counter() - start)
    return best


def default_policies() -> list[str]:
    policies = ["none", "fixed:k=4"]
    for name in sorted(POLICIES):  # other registered policies, with their defaults, where they run
        if name in ("none", "fixed"):
            continue
        policies.append(name)
    return policies


def engine_profiles(scenario: Scenario, engines: list[str]) -> dict[str, Profile]:
    """The scenario's profile as each engine composition prices a step."""
    profile = load_profile(scenario.profile, relative_to=scenario.base_dir)
    variants = {"fused": profile, "separate": profile.model_copy(update={"engine": None})}
    if profile.engine is None or profile.engine.composition != "fused":
        variants = {"separate": profile}
    return {name: variants[name] for name in engines if name in variants}


def print_row(label: str, policy: str, row: dict[str, Any]) -> None:
    print(f"{label:<35} {policy:<22} {row['steps']:>9} {row['requests']:>8} {row['simulated_s']:>9.0f} "
          f"{row['wall_s']:>8.2f} {row['steps_per_s']:>10,.0f} {row['simpy_ratio']:>7.3f} "
          f"{row['requests_per_s']:>9,.0f} "
          f"{row['sim_per_wall']:>9.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", help="a scenario YAML (default: built-in bursty scenarios)")
    parser.add_argument("--quick", action="store_true", help="short scenarios, skip the one-hour trace")
    parser.add_argument("--policies", nargs="+", help="policy specs (default: none, fixed:k=4, others)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per row; the median is shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-hour", action="store_true", help="skip the one-hour traces")
    parser.add_argument("--hour-only", action="store_true", help="only the one-hour traces")
    parser.add_argument("--engines", nargs="+", default=["fused", "separate"], choices=["fused", "separate"],
                        help="price steps as a fused engine, as separate forwards, or both (default)")
    args = parser.parse_args(argv)

    duration = 120.0 if args.quick else 600.0
    repeats = args.repeats or (1 if args.quick else 3)
    if args.scenario:
        cases = [(Path(args.scenario).stem, load_scenario(args.scenario))]
    else:
        cases = [(f"bursty 4 replicas {duration:.0f}s", bursty_scenario(4, duration)),
                 (f"bursty 1 replica {duration:.0f}s", bursty_scenario(1, duration))]
    policies = args.policies or default_policies()

    print(f"{'scenario, engine':<35} {'policy':<22} {'steps':>9} {'finished':>8} {'sim_s':>9} {'wall_s':>8} "
          f"{'steps/s':>10} {'× simpy':>7} {'req/s':>9} {'sim/wall':>9}")
    walls: dict[tuple[str, str, str], float] = {}
    for label, scenario in ([] if args.hour_only else cases):
        engines = engine_profiles(scenario, args.engines)
        for policy in policies:
            for engine, profile in engines.items():
                try:
                    row = measure(scenario, policy, args.seed, repeats, profile)
                except Exception as error:  # a policy that cannot run this scenario: say so, go on
                    print(f"{label + ', ' + engine:<35} {policy:<22} skipped: {error}")
                    continue
                print_row(f"{label}, {engine}", policy, row)
                walls[(label, policy, engine)] = row["wall_s"]
        for engine, profile in engines.items():
            print_row(f"{label}, {engine}", FLOOR_LABEL, measure_floor(scenario, args.seed, repeats, profile))
    # the same traffic simulated: a fused engine's steps are fewer and longer, so steps/s alone
    # would compare unlike things; wall time for the same scenario is the cost of the engine model
    ratios = [f"{label}, {policy} ×{wall / walls[(label, policy, 'separate')]:.2f}"
              for (label, policy, engine), wall in walls.items()
              if engine == "fused" and (label, policy, "separate") in walls]
    if ratios:
        print(f"wall time, fused / separate engine (same traffic): {', '.join(ratios)}")

    if not args.hour_only:
        generation_ms = workload_generation_s() * 1e3
        print(f"generating one hour of traffic at 20 req/s: {generation_ms:.0f} ms (best of 3)")
    if not (args.quick or args.no_hour or args.scenario):
        print()
        engine = args.engines[0]
        for policy, target_s in HOUR_TARGETS_S.items():
            if args.policies and policy not in args.policies:
                continue
            # a fresh process per run: its peak memory is this run's, not the benchmark's so far
            with concurrent.futures.ProcessPoolExecutor(max_workers=1) as child:
                row = child.submit(one_hour_run, policy, args.seed, engine).result()
            print_row(f"one hour, 4 replicas, {engine}", policy, row)
            verdict = "meets" if row["wall_s"] < target_s else "misses"
            memory = "meets" if row["peak_rss_bytes"] <= PEAK_MEMORY_TARGET_BYTES else "misses"
            print(f"  {row['wall_s']:.1f} s wall ({verdict} the {target_s:.0f} s target); "
                  f"peak resident memory {row['peak_rss_bytes'] / 2**20:,.0f} MiB "
                  f"({memory} the 2 GiB target); tables in memory: "
                  f"requests {row['requests_bytes'] / 2**20:,.1f} MiB, steps {row['steps_rows']:,} rows "
                  f"{row['steps_bytes'] / 2**20:,.1f} MiB", flush=True)
    return 0


def one_hour_run(policy: str, seed: int, engine: str) -> dict[str, Any]:
    hour = bursty_scenario(4, 3600.0, "bursty-hour")
    profile = engine_profiles(hour, [engine])[engine]
    requests = build_requests(hour, seed)
    start = time.perf_counter()
    result = simulate(hour, policy, seed, profile=profile, requests=requests)
    wall = time.perf_counter() - start
    row = speed_row(result, wall, bare_simpy_timeouts_per_s())
    # ru_maxrss is in KiB on Linux
    return {**row, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "steps_rows": len(result.steps), "steps_bytes": int(result.steps.memory_usage(deep=True).sum()),
            "requests_bytes": int(result.requests.memory_usage(deep=True).sum())}


if __name__ == "__main__":
    raise SystemExit(main())
