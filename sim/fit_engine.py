"""Fit a fused engine's coefficients to its own benchmark runs: simulate each measured run with
candidate coefficients and minimise the relative error of the simulated metrics against the
measured ones (scipy's bounded least squares).

The coefficients are the roofline profile's assumptions (`EngineCoefficients`): the bandwidth
and compute efficiencies (≤ 1), the host time per step, the fixed cost per target and per draft
forward, and the time per request outside the steps (all ≥ 0). Runs cannot tell every one apart
— without speculation no draft forward runs; one target forward per step makes its fixed cost
and the step's host time one sum — so each coefficient also pays a weak pull towards its prior
(`PRIOR_WEIGHT`) that keeps the solver off wide plateaus. That pull is too weak to hold a
coefficient the runs do not tell at all (runs without compute-bound forwards leave the compute
efficiency anywhere in a flat valley, where the solver's path ends), so after the fit each
coefficient is moved by its scale either way: one that moves the error by less than
`IDENTIFIED_MIN_CHANGE` is held at its prior and the rest are fitted again. Coefficients no run
exercises (the draft's, without speculation) are not fitted at all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from sim.cluster import simulate
from specsim.errors import SpecsimError
from specsim.measured import FITTED_METRICS, METRICS, MeasuredRun, stage_metrics
from specsim.policy import make_policy
from specsim.profile.roofline import EngineCoefficients, roofline_profile
from specsim.profile.schema import Acceptance, Profile
from specsim.profile.schema_engine import BenchmarkResidual, EngineFit
from specsim.scenario import scenario_from_dict

# (lower bound, upper bound, the distance from the prior that costs as much as a 1% error on one
# metric): physical limits, and how far a coefficient may drift before data must pay for it
BOUNDS: dict[str, tuple[float, float, float]] = {
    "bandwidth_efficiency": (0.2, 1.0, 0.05),
    "compute_efficiency": (0.1, 1.0, 0.05),
    "step_overhead_s": (0.0, 0.02, 0.25e-3),
    "target_forward_s": (0.0, 0.02, 0.25e-3),
    "draft_forward_s": (0.0, 0.02, 0.25e-3),
    "request_overhead_s": (0.0, 0.2, 2.5e-3),
}
PRIOR_WEIGHT = 0.001
# a coefficient whose move by its scale (either way, within its bounds) changes the fitted runs'
# mean |relative error| by less than this (0.1 percentage point) is not identified by them; on the
# shipped vLLM runs the compute efficiency moves it by 0.02-0.03 points, every other coefficient by 2-5
IDENTIFIED_MIN_CHANGE = 0.001
# a fit whose simulated runs stay further than this (mean |relative error|) from the measured ones
# has not found the engine: no profile is written from it
MAX_MEAN_ABS_ERROR = 0.25
DRAIN_S = 3600.0


@dataclass(frozen=True)
class StageResidual:
    run: str
    stage: str
    metric: str
    measured: float
    simulated: float

    @property
    def relative_error(self) -> float:
        return self.simulated / self.measured - 1.0


@dataclass(frozen=True)
class EngineFitResult:
    coefficients: EngineCoefficients
    fitted: list[str]
    residuals: list[StageResidual]
    evaluations: int
    held: list[str] = dataclasses.field(default_factory=list)  # not identified: kept at the prior

    @property
    def mean_abs_rel_error(self) -> float:
        return float(np.mean([abs(r.relative_error) for r in self.residuals]))


def replay(run: MeasuredRun, profile: Profile, policy: str = "none", seed: int = 0) -> list[dict[str, float]]:
    """Simulate a measured run's requests on `profile`; the metrics of each of its stages."""
    table = replay_table(run, profile, policy, seed)
    return [stage_metrics(table, stage.first, stage.end) for stage in run.stages]


def replay_table(run: MeasuredRun, profile: Profile, policy: str = "none", seed: int = 0) -> pd.DataFrame:
    """The requests table of a simulation of a measured run's requests on `profile`."""
    requests = run.requests
    count = len(requests)
    fixed = {"kind": "fixed", "value": 1}
    raw = {
        "name": run.name,
        "cluster": {"replicas": 1, "max_batch_size": run.max_num_seqs,
                    "max_batch_tokens": max(run.max_num_batched_tokens, run.max_num_seqs)},
        # the workload is replaced by the run's requests; only its window is read
        "workload": {"duration_s": float(requests.arrival_s.max()) + 1.0,
                     "arrival": {"kind": "poisson", "rate": 1.0},
                     "prompt_tokens": fixed, "output_tokens": fixed},
        "slo": {"ttft_s": 1e9, "tpot_s": 1e9},
        "policies": [policy],
        "drain_s": DRAIN_S,
    }
    scenario = scenario_from_dict(raw, source=str(run.source))
    unbounded = np.full(count, 1e9)
    requests = requests.with_slos(unbounded, unbounded)
    return simulate(scenario, policy, seed, profile=profile, requests=requests).requests


def residuals(runs: list[MeasuredRun], simulated: list[list[dict[str, float]]],
              metrics: tuple[str, ...] = FITTED_METRICS) -> list[StageResidual]:
    return [StageResidual(run.name, stage.name, metric, stage.measured[metric], values[metric])
            for run, per_stage in zip(runs, simulated, strict=True)
            for stage, values in zip(run.stages, per_stage, strict=True)
            for metric in metrics]


def fit_engine(runs: list[MeasuredRun], gpu: str, target: str, draft: str, acceptance: Acceptance | None,
               policy: str = "none", start: EngineCoefficients | None = None,
               metrics: tuple[str, ...] = FITTED_METRICS, seed: int = 0,
               on_evaluation: Callable[[int, float], None] | None = None) -> EngineFitResult:
    """The coefficients that bring the simulated runs closest to the measured ones."""
    if not runs:
        raise SpecsimError("no benchmark run to fit on")
    prior = start or EngineCoefficients()
    base = roofline_profile(gpu, target, draft, acceptance=acceptance, coefficients=prior)
    speculates = make_policy(policy).max_draft_tokens > 0
    evaluations = 0

    def simulated_with(coefficients: EngineCoefficients) -> list[list[dict[str, float]]]:
        profile = with_coefficients(base, coefficients)
        return [replay(run, profile, policy, seed) for run in runs]

    def errors_with(coefficients: EngineCoefficients) -> list[float]:
        nonlocal evaluations
        evaluations += 1
        errors = [r.relative_error for r in residuals(runs, simulated_with(coefficients), metrics)]
        if not all(math.isfinite(e) for e in errors):
            errors = [e if math.isfinite(e) else 10.0 for e in errors]  # a run that did not finish
        if on_evaluation is not None:
            on_evaluation(evaluations, float(np.mean(np.abs(errors))))
        return errors

    def solve(names: list[str], begin: EngineCoefficients) -> EngineCoefficients:
        # the solver works in units of each coefficient's prior distance (z = value / scale), so
        # that one finite-difference step is a comparable nudge for an efficiency and a millisecond
        scale = np.array([BOUNDS[name][2] for name in names])
        lower = np.array([BOUNDS[name][0] for name in names]) / scale
        upper = np.array([BOUNDS[name][1] for name in names]) / scale
        z0 = np.clip(np.array([getattr(prior, name) for name in names]) / scale, lower, upper)

        def coefficients_at(z: np.ndarray) -> EngineCoefficients:
            return dataclasses.replace(begin, **dict(zip(names, (z * scale).tolist(), strict=True)))

        def objective(z: np.ndarray) -> np.ndarray:
            value = np.concatenate([errors_with(coefficients_at(z)), PRIOR_WEIGHT * (z - z0)])
            cost = float(value @ value)
            if cost < best[0]:
                best[:] = [cost, z.copy()]
            return value

        # a simulated run is a step function of the coefficients at fine scales (a step more or
        # less before an arrival), so the solver can stall on a ledge: it starts again, with fresh
        # finite differences, from the best point any evaluation saw
        start_z = np.clip(np.array([getattr(begin, name) for name in names]) / scale, lower, upper)
        best: list = [math.inf, start_z]
        for _ in range(2):
            least_squares(objective, best[1], bounds=(lower, upper), diff_step=0.02, xtol=1e-4, ftol=1e-6,
                          max_nfev=40)
        if not np.all(np.isfinite(best[1])):
            raise SpecsimError("the fit did not converge: the coefficients it reached are not finite")
        return coefficients_at(best[1])

    names = [name for name in BOUNDS if speculates or name != "draft_forward_s"]
    fitted = solve(names, prior)
    held = not_identified(fitted, names, lambda c: float(np.mean(np.abs(errors_with(c)))))
    if held:
        names = [name for name in names if name not in held]
        at_prior = dataclasses.replace(fitted, **{name: getattr(prior, name) for name in held})
        fitted = solve(names, at_prior) if names else at_prior
    final = residuals(runs, simulated_with(fitted), metrics)
    if any(not math.isfinite(r.simulated) for r in final):
        raise SpecsimError("the fit did not converge: some measured run does not finish in the simulator "
                           "at the coefficients it reached")
    result = EngineFitResult(fitted, names, final, evaluations, held)
    if result.mean_abs_rel_error > MAX_MEAN_ABS_ERROR:
        worst = max(final, key=lambda r: abs(r.relative_error))
        raise SpecsimError(
            f"the fit did not converge: mean |error| {result.mean_abs_rel_error:.0%} at the closest "
            f"coefficients within their bounds; worst {worst.run}: {worst.stage}: {worst.metric} measured "
            f"{worst.measured:.4g}, simulated {worst.simulated:.4g} — is this the engine, GPU and model pair "
            "of --gpu/--target/--draft?")
    return result


def not_identified(coefficients: EngineCoefficients, names: list[str],
                   mean_abs_error: Callable[[EngineCoefficients], float]) -> list[str]:
    """The coefficients whose move by their scale, either way within their bounds, changes the
    mean |error| by less than IDENTIFIED_MIN_CHANGE: the runs do not tell their value."""
    at_fit = mean_abs_error(coefficients)
    held = []
    for name in names:
        low, high, scale = BOUNDS[name]
        value = getattr(coefficients, name)
        moves = {min(max(value + step, low), high) for step in (-scale, scale)} - {value}
        changes = [abs(mean_abs_error(dataclasses.replace(coefficients, **{name: moved})) - at_fit)
                   for moved in moves]
        if changes and max(changes) < IDENTIFIED_MIN_CHANGE:
            held.append(name)
    return held


def with_coefficients(profile: Profile, coefficients: EngineCoefficients) -> Profile:
    """`profile` (a fused roofline one) with other engine coefficients: what the simulator of a
    fused engine reads (its engine section and host time per step); the grids stay."""
    engine = profile.engine
    if engine is None or engine.roofline is None:
        raise SpecsimError(f"profile {profile.name!r} has no fused engine to fit")
    roof = engine.roofline.model_copy(update={"bandwidth_efficiency": coefficients.bandwidth_efficiency,
                                              "compute_efficiency": coefficients.compute_efficiency})
    engine = engine.model_copy(update={
        "roofline": roof, "target_forward_s": coefficients.target_forward_s,
        "draft_forward_s": coefficients.draft_forward_s,
        "request_overhead_s": coefficients.request_overhead_s})
    latency = profile.latency.model_copy(update={"step_overhead_s": coefficients.step_overhead_s})
    return profile.model_copy(update={"engine": engine, "latency": latency})


def fitted_profile(result: EngineFitResult, runs: list[MeasuredRun], gpu: str, target: str, draft: str,
                   acceptance: Acceptance | None, engine_name: str, name: str | None = None,
                   dtype: str = "bf16", policy: str = "none", seed: int = 0,
                   metrics: tuple[str, ...] = FITTED_METRICS, date: str | None = None) -> Profile:
    """The roofline profile at the fitted coefficients, saying what it was fitted on and how close
    its own simulation of each run comes (replayed once more: the profile rounds its numbers)."""
    profile = roofline_profile(gpu, target, draft, dtype=dtype, acceptance=acceptance, name=name,
                               date=date, coefficients=result.coefficients)
    simulated = [replay(run, profile, policy, seed) for run in runs]
    every = residuals(runs, simulated, METRICS)
    fitted = [r for r in every if r.metric in metrics]
    error = float(np.mean([abs(r.relative_error) for r in fitted]))
    files = [str(run.source) for run in runs]
    fit = EngineFit(
        files=files, parameters=result.fitted, metrics=list(metrics), mean_abs_rel_error=round(error, 6),
        residuals=[BenchmarkResidual(run=f"{r.run}: {r.stage}", metric=r.metric, measured=r.measured,
                                     simulated=float(f"{r.simulated:.6g}")) for r in every])
    assert profile.engine is not None
    engine = profile.engine.model_copy(update={"name": engine_name, "fit": fit})
    benchmarks = sorted({run.benchmark for run in runs})
    held = (f"held at the roofline's assumption, which the runs do not tell: {', '.join(result.held)}; "
            if result.held else "")
    notes = (f"Engine coefficients fitted to {len(runs)} {engine_name} benchmark run(s) "
             f"({', '.join(benchmarks)}): {', '.join(files)}; fitted {', '.join(result.fitted)}; {held}"
             f"mean |error| {error:.1%} over {len(fitted)} stage metrics "
             "(engine.fit). " + profile.notes)
    return profile.model_copy(update={"source": "fitted", "engine": engine, "notes": notes,
                                      "citations": [*profile.citations, *files]})
