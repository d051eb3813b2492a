"""One validation: for each load × policy, the real run, the simulator on the identical workload,
the simulator again with the real run's measured acceptance replayed, and once more with that
acceptance and its forwards scaled to the speed the machine ran at during the real run — decode
forwards and prefills apart (`speed.py`); then the error table and the report.

Load: a value of `workload.rate_scale` (it multiplies every arrival rate, or divides a trace's
gaps), applied with `Scenario.with_fields`; the default is the scenario's own sweep axis on
`workload.rate_scale`, if it has one.

Order: per load, every policy's real runs first, then the simulations — the simulator
(milliseconds) never competes with a real run for the cores. The repeats come after every
policy's first run, not right after it: on a shared machine the speed drifts over minutes, and a
repeat taken seconds later would measure only the seconds-scale noise, while the simulator's
profile was measured minutes before. Spaced this way the noise column spans the load's whole
block of real runs (validate-cpu: ~3 minutes between a run and its repeat).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specsim.errors import SpecsimError
from specsim.policy import make_policy
from specsim.profile import Profile
from specsim.profile.scale import scale_forwards
from specsim.report.trace import write_trace
from specsim.results import RunResult
from specsim.scenario import Scenario, build_requests
from specsim.validate.acceptance import measured_acceptance
from specsim.validate.compare import (
    DEFAULT_THRESHOLDS,
    FAIL,
    PASS,
    UNRESOLVED,
    Thresholds,
    compare_point,
    verdict_status,
)
from specsim.validate.speed import SPEED_WINDOW_S, ProbeReading, SpeedSeries, speed_ratios
from specsim.workload.requests import Requests

LOAD_FIELD = "workload.rate_scale"
Serve = Callable[..., RunResult]  # realrun.serve.serve's signature
Simulate = Callable[..., RunResult]  # sim.cluster.simulate's signature


@dataclass
class Validation:
    table: pd.DataFrame
    points: list[dict[str, Any]] = field(default_factory=list)  # policy, load, runs {name: RunResult}
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        gated = self.table[self.table["passed"].notna()]
        return bool(gated["passed"].astype(bool).all())

    @property
    def exit_code(self) -> int:
        """0: every gated metric passes; 1: some fail; 3: none fails, some are unresolved."""
        return {PASS: 0, FAIL: 1, UNRESOLVED: 3}[verdict_status(self.table)]


def default_loads(scenario: Scenario) -> list[float]:
    values = scenario.sweep.grid.get(LOAD_FIELD)
    if values:
        return [float(v) for v in values]
    return [float(scenario.workload.rate_scale)]


def import_serve() -> Serve:
    try:
        from realrun.serve import serve
    except ImportError as error:
        raise SpecsimError(f"the real engine is not available (realrun.serve: {error})") from None
    return serve


def run_validation(scenario: Scenario, *, profile: Profile, target: str | Path, draft: str | Path | None,
                   policies: Sequence[str | dict[str, Any]] | None = None,
                   loads: Sequence[float] | None = None, seed: int | None = None, device: str = "cpu",
                   repeats: int = 3, replay: bool = True, thresholds: Thresholds = DEFAULT_THRESHOLDS,
                   out: str | Path | None = None,
                   serve: Serve | None = None, simulate: Simulate | None = None,
                   progress: bool = True, echo: Callable[[str], None] | None = None,
                   probe: Callable[[], ProbeReading] | None = None,
                   calibration_probe: ProbeReading | None = None,
                   prompts: str | Path | None = None) -> Validation:
    """Run the comparison. `serve`/`simulate` default to `realrun.serve.serve` and
    `sim.cluster.simulate` (tests pass stand-ins); a `serve` that takes `profile=`/`requests=`
    keywords gets the same profile (its policies' cost estimator) and the same requests.
    `repeats` real runs per point, interleaved: the later ones measure the real runs' own spread
    (the `noise` column), under which a metric over its threshold is UNRESOLVED, not FAIL. Runs
    are written under `out/runs/`. `probe` (calibrate/probe.py) times a few engine forwards
    against the profile's price right before each real run; the notes state, per run, how fast
    the machine was against the profile (and, with `calibration_probe`, right after the
    calibration)."""
    if serve is None:
        serve = import_serve()
    if simulate is None:
        from sim.cluster import simulate
    policies = list(policies or scenario.policies)
    loads = list(loads or default_loads(scenario))
    # synthetic acceptance: both worlds already draw the same counts; replaying each request's
    # measured rate would overwrite the shared draws
    replay = replay and scenario.acceptance is None
    seed = scenario.seeds[0] if seed is None else seed
    say = echo or (lambda _line: None)
    accepted = _keywords(serve)
    tables, points = [], []
    for load in loads:
        point_scenario = scenario.with_fields({LOAD_FIELD: load})
        requests = build_requests(point_scenario, seed)
        real_runs: dict[str, list[RunResult]] = {}
        for repeat in range(repeats):  # every policy once, then the repeats: see the module docstring
            # each round starts one policy later, so no policy always runs first or last
            shift = repeat % len(policies)
            for spec in policies[shift:] + policies[:shift]:
                label = make_policy(spec).label()
                say(f"real  {label} @ load {load:g}" + (f" (repeat {repeat + 1})" if repeat else ""))
                # the same cost model for the policy, the same requests, the prompt set asked for
                extra = {key: value for key, value in (("profile", profile), ("requests", requests),
                                                        ("prompts", prompts))
                         if key in accepted and value is not None}
                reading = probe() if probe is not None else None
                run = serve(point_scenario, spec, seed, target, draft, device=device, show_progress=progress,
                            **extra)
                if reading is not None:
                    run.details.update(reading.details())
                check_same_workload(run, requests, f"{label} @ load {load:g}")
                real_runs.setdefault(label, []).append(run)
        for spec in policies:
            label = make_policy(spec).label()
            real, *others = real_runs[label]
            say(f"sim   {label} @ load {load:g}")
            sim = simulate(point_scenario, spec, seed, profile=profile, requests=requests)
            runs = {"real": real, "sim": sim}
            for number, other in enumerate(others, start=1):
                runs["real repeat" if number == 1 else f"real repeat {number}"] = other
            if replay:
                acceptance = measured_acceptance(real.requests)
                replayed = simulate(point_scenario, spec, seed, profile=profile, requests=requests,
                                    acceptance_replay=acceptance)
                runs["sim, replayed acceptance"] = replayed
                speeds = speed_ratios(real, replayed)
                if speeds.usable:
                    prefill = speeds.prefill_or_decode()
                    runs[AT_REAL_SPEED] = simulate(point_scenario, spec, seed,
                                                   profile=scale_forwards(profile, speeds.decode, prefill),
                                                   requests=requests, acceptance_replay=acceptance)
                    runs[AT_REAL_SPEED].details.update(decode_time_ratio=speeds.decode,
                                                       prefill_time_ratio=prefill)
            series = SpeedSeries(real.details.get("speed_samples") or [])
            if series.usable:
                # the model row: the profile at the speed the real run measured at each instant
                host = series.host_at if series.host is not None and series.host.usable else None
                runs[MODEL] = simulate(point_scenario, spec, seed, profile=profile, requests=requests,
                                       speed=series.factors_at, host_time=host)
                decode, prefill = series.decode.range(), series.prefill.range()
                runs[MODEL].details.update(speed_decode_low=decode[0], speed_decode_high=decode[1],
                                           speed_prefill_low=prefill[0], speed_prefill_high=prefill[1])
            tables.append(compare_point(label, load, real, sim, replay=runs.get("sim, replayed acceptance"),
                                        at_real_speed=runs.get(AT_REAL_SPEED), model=runs.get(MODEL),
                                        repeat=others, thresholds=thresholds))
            points.append({"policy": label, "load": load, "runs": runs})
            if out is not None:
                folder = Path(out) / "runs" / point_slug(label, load)
                for name, result in runs.items():
                    run_folder = folder / run_folder_name(name)
                    result.write(run_folder)
                    # the real and simulated runs of a point open side by side in a trace viewer
                    write_trace(result.requests, result.steps, run_folder / "trace.json")
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    notes = [f"scenario {scenario.name} ({scenario.source}), seed {seed}, profile {profile.name} "
             f"({profile.source}), target {target}, draft {draft}, device {device}, "
             f"{repeats} real run(s) per point"
             + (", synthetic acceptance (the same draws in both worlds; no replay)"
                if scenario.acceptance is not None else "")]
    notes += calibration_notes(profile, thresholds.median)
    notes += probe_notes(points, calibration_probe, thresholds.median)
    notes += speed_notes(points)
    notes += model_notes(points)
    return Validation(table, points, notes)


def calibration_notes(profile: Profile, threshold: float = 0.05) -> list[str]:
    """One line where the profile says how well its calibration reproduced its own grid points
    (`latency.grid_walk_spread`): a prediction can be off by about that much with no model error,
    and the real runs' spread — the verdict's resolution — does not show it."""
    spread = profile.latency.grid_walk_spread
    if not spread:
        return []
    line = ("the profile's own resolution: its calibration's walks over a grid put a point "
            + ", ".join(f"{100 * value:.1f}% ({kind})" for kind, value in spread.items())
            + " apart, at the median point")
    over = [kind for kind, value in spread.items() if value > threshold]
    if over:
        line += (f" — over the {threshold:.0%} median threshold for {' and '.join(over)}: the prediction can "
                 "miss by that much from the calibration alone, which the verdict (judged against the real "
                 "runs' spread) counts against the simulator")
    return [line]


def probe_notes(points: list[dict[str, Any]], calibration_probe: ProbeReading | None,
                threshold: float = 0.05) -> list[str]:
    """One line: the speed probe before each point's real runs, over the profile's price; and one
    more where the probe right after the calibration already disagreed with the profile by more
    than the median threshold (a prediction inherits that, whatever the machine does later)."""
    parts = []
    for point in points:
        readings = [f"{name} ×{run.details['probe_decode_ratio']:.2f} / "
                    f"×{run.details['probe_prefill_ratio']:.2f}" for name, run in point["runs"].items()
                    if name.startswith("real") and "probe_decode_ratio" in run.details]
        if readings:
            parts.append(f"{point['policy']} @ {point['load']:g} before " + ", ".join(readings))
    if not parts:
        return []
    head = "speed probe, engine forwards at one grid point over the profile's price, decode / prefill"
    if calibration_probe is not None:
        head += (f" (right after the calibration: ×{calibration_probe.decode_ratio:.2f} / "
                 f"×{calibration_probe.prefill_ratio:.2f})")
    lines = [head + ": " + "; ".join(parts)]
    if calibration_probe is not None:
        off = [f"{name} ×{ratio:.2f}" for name, ratio in (("decode", calibration_probe.decode_ratio),
                                                          ("prefill", calibration_probe.prefill_ratio))
               if abs(ratio - 1.0) > threshold]
        if off:
            lines.append(f"the profile disagreed with this engine right after it was measured "
                         f"({', '.join(off)} by the probe, over the {threshold:.0%} median threshold): the "
                         "prediction inherits that; the model row, run at the measured speed, does not")
    return lines


def speed_notes(points: list[dict[str, Any]]) -> list[str]:
    """The machine's measured forward speed against the profile's, per point (one line)."""
    return _per_point_line(
        points, AT_REAL_SPEED,
        lambda details: f"×{details['decode_time_ratio']:.2f} / ×{details['prefill_time_ratio']:.2f}",
        "forward time, real run / simulator with its acceptance replayed, decode per token / prefill per "
        "prompt token, wake-ups included (the 'at real speed' column reruns that simulation with the "
        "forwards scaled by them): ")


def model_notes(points: list[dict[str, Any]]) -> list[str]:
    """The range of each point's speed series (the model row's factors), one line."""
    return _per_point_line(
        points, MODEL,
        lambda details: (f"×{details['speed_decode_low']:.2f}-{details['speed_decode_high']:.2f} / "
                         f"×{details['speed_prefill_low']:.2f}-{details['speed_prefill_high']:.2f}"),
        "speed(t), the real run's forwards over the profile's price for each step's composition, decode / "
        f"prefill, running medians over {SPEED_WINDOW_S:g} s (the 'model' column runs the simulator at "
        "them): ")


def _per_point_line(points: list[dict[str, Any]], run: str, describe: Callable[[dict[str, Any]], str],
                    head: str) -> list[str]:
    """One line: `head`, then each point that has `run`, described from that run's details."""
    parts = [f"{point['policy']} @ {point['load']:g} {describe(point['runs'][run].details)}"
             for point in points if run in point["runs"]]
    return [head + ", ".join(parts)] if parts else []


def _keywords(function: Callable[..., Any]) -> set[str]:
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"profile", "requests", "prompts"}
    return {p.name for p in parameters}


AT_REAL_SPEED = "sim at the real run's speed"
MODEL = "sim, model"
RUN_FOLDERS = {"real": "real", "real repeat": "real-repeat", "sim": "sim",
               "sim, replayed acceptance": "sim-replay", AT_REAL_SPEED: "sim-real-speed", MODEL: "sim-model"}


def run_folder_name(name: str) -> str:
    """A point's run by name → its folder: real, real-repeat, real-repeat-2, …, sim, sim-replay,
    sim-real-speed."""
    return RUN_FOLDERS.get(name) or name.replace(" ", "-")


def point_slug(label: str, load: float) -> str:
    return re.sub(r"[^A-Za-z0-9.=@-]+", "_", f"{label}@{load:g}")


def check_same_workload(run: RunResult, requests: Requests, where: str) -> None:
    """The real engine must have served exactly the requests the simulator gets."""
    table = run.requests.sort_values("request_id")
    same = (len(table) == len(requests)
            and np.allclose(table["arrival_s"].to_numpy(dtype=np.float64), requests.arrival_s, atol=1e-9)
            and np.array_equal(table["prompt_tokens"].to_numpy(), requests.prompt_tokens)
            and np.array_equal(table["output_tokens"].to_numpy(), requests.output_tokens)
            and np.array_equal(table["category"].to_numpy(dtype=object), requests.category_names()))
    if not same:
        raise SpecsimError(f"{where}: the real run served a different workload than the scenario's "
                           f"({len(table)} requests vs {len(requests)}): arrivals, lengths and categories "
                           "must match for a comparison")


