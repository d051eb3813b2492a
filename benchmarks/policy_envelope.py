"""How close do the adaptive policies get to the envelope of fixed speculation lengths, and to the
oracle? One table per scenario: rows are the scenario's sweep points (load levels, or SLO
scales); columns are goodput (SLO-meeting requests/s) and SLO attainment of every policy, the
best fixed k at that point (by goodput; ties → attainment, then smaller k), the ratios
adaptive / best fixed and adaptive / oracle (goodput), and — AdaServe's claim — the tree-form
`slo_customized` against the best sequence policy (fixed k envelope and `adaptive`): its goodput
ratio and its attainment difference ("tree/best seq").

    python benchmarks/policy_envelope.py                       # scenarios/experiments/*.yaml
    python benchmarks/policy_envelope.py --quick               # 15 s of traffic, one seed
    python benchmarks/policy_envelope.py scenarios/experiments/conversation.yaml --seeds 3

After each scenario's table, an ablation table: each policy the papers define, run by its
published rule (the bare name), against the project's variants of that rule (`ABLATIONS`) —
goodput / SLO attainment / mean k of each, and the variant's goodput over the default's.

`--staircase`: every scenario on its profile padded to vLLM's CUDA-graph capture sizes (a fused
engine's staircase in tokens per step), with the first-drop searches of `adaptive` and `goodput`
as the ablations of their global search (the default where the profile has a staircase).

Runs are independent and go to a process pool (`--jobs`, default: every core).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim import simulate  # noqa: E402
from specsim.policy import make_policy  # noqa: E402
from specsim.profile import load_profile, save_profile  # noqa: E402
from specsim.profile.roofline import VLLM_CUDA_GRAPH_SIZES  # noqa: E402
from specsim.scenario import Scenario, load_scenario  # noqa: E402

SHORT = {"none": "none", "disable_by_batch": "dbb", "threshold": "thr", "goodput": "goodput",
         "adaptive": "adaptive", "slo_customized": "slo_cust", "oracle": "oracle"}


# The project's variants of each published rule, as named options (the class docstrings say what
# each changes); `--no-ablations` skips them.
ABLATIONS = {
    "adaptive": ["adaptive:gate=slack", "adaptive:confidence=calibrated",
                 "adaptive:gate=slack,confidence=calibrated"],
    "goodput": ["goodput:alpha=per_request,every=1"],
    "slo_customized": ["slo_customized:budget=knee", "slo_customized:tree=false"],
}
STAIRCASE_ABLATIONS = {
    "adaptive": ["adaptive:search=first_drop", "adaptive:trim=graph"],
    "goodput": ["goodput:search=first_drop"],
}


def short_name(label: str) -> str:
    name, _, arguments = label.partition(":")
    if name == "fixed":
        return arguments  # "k=3"
    if name == "adaptive" and arguments:  # the ablations: "ad:drafter-off", "ad:gate=step"
        return "ad:" + arguments.replace("=false", "-off").replace("confidence=", "")
    base = SHORT.get(name, name)
    return base if not arguments or name == "disable_by_batch" else f"{base}:{arguments}"


def points(scenario: Scenario) -> list[dict[str, Any]]:
    grid = scenario.sweep.grid
    if not grid:
        return [{}]
    axes = list(grid)
    return [dict(zip(axes, values, strict=True)) for values in itertools.product(*grid.values())]


def point_label(point: dict[str, Any]) -> str:
    if not point:
        return "-"
    return ",".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in point.items())


def run_one(task: tuple[str, dict[str, Any], str, int, float | None, dict[str, Any]]) -> dict[str, Any]:
    path, point, spec, seed, duration_s, extra = task
    scenario = load_scenario(path)
    overrides = {**point, **extra}
    if duration_s is not None:
        overrides["workload.duration_s"] = duration_s
    scenario = scenario.with_fields(overrides)
    started = time.perf_counter()
    summary = simulate(scenario, spec, seed).summary
    return {"scenario": scenario.name, "point": point_label(point), "policy": make_policy(spec).label(),
            "seed": seed, "load": summary["load"], "goodput": summary["goodput_requests_per_s"],
            "slo": summary["slo_attainment"], "mean_k": summary["mean_k"],
            "wall_s": time.perf_counter() - started}


def envelope_table(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per sweep point; a cell per policy, "goodput/attainment"."""
    means = frame.groupby(["point", "policy"], sort=False)[["load", "goodput", "slo"]].mean()
    rows = []
    for point in frame["point"].unique():
        at = means.loc[point]
        row: dict[str, Any] = {"point": point, "req/s": f"{at['load'].mean():.1f}"}
        for label in order:
            row[short_name(label)] = f"{at.loc[label, 'goodput']:.2f}/{at.loc[label, 'slo']:.2f}"
        fixed = [label for label in order if label.startswith("fixed:")]
        adaptive = next((label for label in order if label.startswith("adaptive")), None)
        oracle = next((label for label in order if label.startswith("oracle")), None)
        if fixed:
            best = max(fixed, key=lambda label: (at.loc[label, "goodput"], at.loc[label, "slo"],
                                                 -int(label.split("=")[1])))
            row["best fixed"] = short_name(best)
            if adaptive:
                row["adapt/best"] = _ratio(at.loc[adaptive, "goodput"], at.loc[best, "goodput"])
        if adaptive and oracle:
            row["adapt/oracle"] = _ratio(at.loc[adaptive, "goodput"], at.loc[oracle, "goodput"])
        # AdaServe's claim: its trees beat the best sequence policy (fixed k envelope, adaptive)
        trees = next((label for label in order if label.startswith("slo_customized")
                      and make_policy(label).drafts_trees), None)
        sequences = [*fixed, adaptive] if adaptive else fixed
        if trees and sequences:
            best = max(sequences, key=lambda label: (at.loc[label, "goodput"], at.loc[label, "slo"]))
            row["tree/best seq"] = (f"{_ratio(at.loc[trees, 'goodput'], at.loc[best, 'goodput'])}, "
                                    f"{at.loc[trees, 'slo'] - at.loc[best, 'slo']:+.2f}")
        rows.append(row)
    return pd.DataFrame(rows).set_index("point")


def staircase_profile(scenario: Scenario, folder: Path) -> Path:
    """The scenario's profile with its fused forwards padded to vLLM's CUDA-graph sizes."""
    profile = load_profile(scenario.profile, relative_to=scenario.base_dir)
    if profile.engine is None or profile.engine.composition != "fused":
        raise SystemExit(f"{scenario.name}: --staircase needs a fused profile, {profile.name} is not")
    engine = profile.engine.model_copy(update={"cuda_graph_sizes": VLLM_CUDA_GRAPH_SIZES})
    return save_profile(profile.model_copy(update={"engine": engine}), folder / f"{scenario.name}.json")


def ablation_table(frame: pd.DataFrame, ablations: dict[str, list[str]]) -> pd.DataFrame | None:
    """One row per sweep point; per published default present, its "goodput/attainment/mean k"
    and each variant's, with the variant's goodput over the default's."""
    means = frame.groupby(["point", "policy"], sort=False)[["goodput", "slo", "mean_k"]].mean()
    present = set(frame["policy"])
    pairs = [(default, variant) for default, variants in ablations.items() if default in present
             for variant in (make_policy(spec).label() for spec in variants) if variant in present]
    if not pairs:
        return None
    rows = []
    for point in frame["point"].unique():
        at = means.loc[point]
        row: dict[str, Any] = {"point": point}
        for default in dict.fromkeys(default for default, _ in pairs):
            row[default] = _cell(at.loc[default])
        for default, variant in pairs:
            gain = _ratio(at.loc[variant, "goodput"], at.loc[default, "goodput"])
            row[variant] = f"{_cell(at.loc[variant])} ×{gain}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("point")


def _cell(values: pd.Series) -> str:
    return f"{values['goodput']:.2f}/{values['slo']:.2f}/{values['mean_k']:.1f}"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator > 0 else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario files (default: scenarios/experiments/*.yaml)")
    parser.add_argument("--quick", action="store_true", help="15 s of traffic per run, one seed")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: the scenario's)")
    parser.add_argument("--duration", type=float, default=None, help="override workload.duration_s")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--csv", type=Path, default=None, help="also write every run's row here")
    parser.add_argument("--no-ablations", action="store_true", help="skip the published-rule ablations")
    parser.add_argument("--staircase", action="store_true",
                        help="pad every forward to vLLM's CUDA-graph sizes; ablate the first-drop searches")
    arguments = parser.parse_args(argv)
    ablations = STAIRCASE_ABLATIONS if arguments.staircase else ABLATIONS
    scratch = Path(tempfile.mkdtemp(prefix="envelope-"))

    paths = arguments.scenarios or sorted(str(p) for p in (ROOT / "scenarios" / "experiments").glob("*.yaml"))
    duration = arguments.duration if arguments.duration is not None else (15.0 if arguments.quick else None)
    tasks = []
    orders: dict[str, list[str]] = {}
    for path in paths:
        scenario = load_scenario(path)
        seeds = list(range(arguments.seeds)) if arguments.seeds else scenario.seeds
        seeds = seeds[:1] if arguments.quick and not arguments.seeds else seeds
        orders[scenario.name] = scenario.policy_labels()
        specs = list(scenario.policies)
        if not arguments.no_ablations:
            labels = set(orders[scenario.name])
            specs += [variant for default, variants in ablations.items() if default in labels
                      for variant in variants if make_policy(variant).label() not in labels]
        extra = {"profile": str(staircase_profile(scenario, scratch))} if arguments.staircase else {}
        tasks += [(path, point, spec, seed, duration, extra) for point in points(scenario)
                  for spec in specs for seed in seeds]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 100)
    with ProcessPoolExecutor(max_workers=arguments.jobs) as pool:
        futures = [(task[0], pool.submit(run_one, task)) for task in tasks]
        for path in paths:  # each scenario's table as soon as its runs are done
            runs = pd.DataFrame([future.result() for where, future in futures if where == path])
            rows += runs.to_dict("records")
            name = runs["scenario"].iloc[0]
            print(f"\n## {name}: goodput (SLO-meeting req/s) / SLO attainment; "
                  f"{runs['seed'].nunique()} seed(s); {runs['wall_s'].sum():.0f} s of runs", flush=True)
            print(envelope_table(runs, orders[name]).to_string(), flush=True)
            table = ablation_table(runs, ablations)
            if table is not None:
                against = ("the first-drop search (global search is the default on a staircase)"
                           if arguments.staircase else "the project's variants")
                print(f"\n{name}, published rule (bare name) against {against}: "
                      "goodput / attainment / mean k, ×variant/default goodput", flush=True)
                print(table.to_string(), flush=True)
    frame = pd.DataFrame(rows)
    if arguments.csv:
        frame.to_csv(arguments.csv, index=False)
    by_policy = frame.groupby("policy")["wall_s"].sum().sort_values(ascending=False)
    print(f"\n{len(tasks)} runs in {time.perf_counter() - started:.0f} s wall on {arguments.jobs} "
          f"processes; run time by policy (s): "
          + ", ".join(f"{short_name(label)} {seconds:.0f}" for label, seconds in by_policy.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
