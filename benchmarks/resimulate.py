"""A finished `specsim validate` run's simulations, redone on its saved real runs.

    python benchmarks/resimulate.py VALIDATE_OUT NEW_OUT [--profile P] [--spread-from Q] [--persistence R]
                                    [--spread-from-real]

The real runs (VALIDATE_OUT/runs/*/real, real-repeat) are read back in the order validate ran
them; the simulator, its replayed-acceptance and at-real-speed reruns and the error table are
computed by today's code — to see what a change of the simulator or of the profile does to the
same real evidence without 15 minutes of real runs. `--profile`: another profile (default:
VALIDATE_OUT/profile.json); `--spread-from Q`: take `latency.step_time_spread` and
`step_time_persistence` from profile Q; `--persistence R`: set `step_time_persistence` to R;
`--spread-from-real`: read both as calibrate does (calibrate/serving.py), but from the saved real
runs of `none` themselves — their decode steps without prefill, each batch size of a run over its
own median — i.e. over the real runs' 40 s instead of calibrate's second (an upper bound: the
answer's own spread).
Prints the error table and the verdict; writes NEW_OUT/errors.csv and the runs. A what-if, not a
validation: the profile did not come from the moment of the real runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from calibrate.serving import step_time_persistence, step_time_spread
from specsim.policy import make_policy
from specsim.profile import load_profile
from specsim.profile.schema import Profile
from specsim.results import RunResult, read_result
from specsim.scenario import load_scenario
from specsim.validate.compare import format_table, verdict_line
from specsim.validate.run import point_slug, run_validation

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "validate-cpu.yaml"


def plain_decode_runs(validate_out: Path) -> list[pd.DataFrame]:
    """The saved real runs' decode steps under `none`, split by batch size (steps of one shape)."""
    runs = []
    for folder in sorted((validate_out / "runs").glob("none@*")):
        for name in ("real", "real-repeat"):
            if not (folder / name).is_dir():
                continue
            steps = read_result(folder / name).steps
            decode = steps[(steps["prefill_tokens"] == 0) & (steps["batch_size"] > 0)]
            runs += [shape for _, shape in decode.groupby("batch_size") if len(shape) >= 3]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("validate_out", type=Path)
    parser.add_argument("new_out", type=Path)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--spread-from", type=Path)
    parser.add_argument("--persistence", type=float)
    parser.add_argument("--spread-from-real", action="store_true")
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    args = parser.parse_args()
    profile = load_profile(args.profile or args.validate_out / "profile.json")
    latency = profile.latency.model_dump()
    if args.spread_from is not None:
        other = load_profile(args.spread_from).latency
        latency.update(step_time_spread=other.step_time_spread,
                       step_time_persistence=other.step_time_persistence)
    if args.spread_from_real:
        runs = plain_decode_runs(args.validate_out)
        latency.update(step_time_spread=step_time_spread(runs),
                       step_time_persistence=step_time_persistence(runs))
        print(f"spread and persistence from {sum(len(run) for run in runs)} real plain decode steps: "
              f"p2.5 ×{latency['step_time_spread'][0]:.2f}, p97.5 ×{latency['step_time_spread'][-1]:.2f}, "
              f"persistence {latency['step_time_persistence']:.2f}")
    if args.persistence is not None:
        latency["step_time_persistence"] = args.persistence
    profile = Profile.model_validate({**profile.model_dump(), "latency": latency})
    served: dict[tuple[str, float], int] = {}

    def saved_run(scenario, spec, seed, target, draft, **_) -> RunResult:
        key = (make_policy(spec).label(), scenario.workload.rate_scale)
        repeat = served.get(key, 0)
        served[key] = repeat + 1
        folder = args.validate_out / "runs" / point_slug(*key)
        return read_result(folder / ("real" if repeat == 0 else "real-repeat"))

    result = run_validation(load_scenario(args.scenario), profile=profile, target="saved", draft="saved",
                            serve=saved_run, progress=False, out=args.new_out)
    result.table.to_csv(args.new_out / "errors.csv", index=False)
    print(format_table(result.table, f"re-simulated: {args.validate_out}"))
    print("\n".join(result.notes[-1:]))
    print(verdict_line(result.table))


if __name__ == "__main__":
    main()
