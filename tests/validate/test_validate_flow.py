"""The validate flow end to end with a stand-in for the real engine (the simulator itself, or a
slowed copy of it): the orchestration, the files, the report's structure and the exit codes.
The same flow on the real engine is tests/validate/test_end_to_end.py."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.cluster import simulate
from specsim.cli import main
from specsim.profile import load_profile, save_profile
from specsim.profile.latency import LatencyModel
from specsim.profile.scale import scale_forwards
from specsim.results import RunResult, read_result
from specsim.validate import run as validate_run
from specsim.validate.compare import METRICS
from specsim.validate.report import COLOURS
from specsim.validate.run import RUN_FOLDERS, run_validation
from specsim.validate.speed import ProbeReading, SpeedSeries

from .conftest import SHIPPED, small_scenario

SAME_SPEED = ProbeReading(0.02, 0.02, 0.01, 0.01)

SHORT = {"kind": "uniform", "low": 8, "high": 24}


def simulator_as_real(profile, slowdown: float = 1.0):
    """A `serve` that runs the simulator; `slowdown` stretches every request's decode phase."""
    def serve(scenario, policy_spec, seed, target, draft, device="cpu", sampling=None, show_progress=True):
        run = simulate(scenario, policy_spec, seed, profile=profile)
        if slowdown != 1.0:
            requests = run.requests.copy()
            requests["tpot_s"] *= slowdown
            steps = run.steps.copy()
            steps["step_s"] *= slowdown
            run = RunResult(requests, steps, run.summary, run.details)
        return run
    return serve


def test_identical_worlds_give_zero_error(shipped_profile, tmp_path):
    # 10 s of traffic (about 50 requests at the full load)
    scenario = small_scenario(rate=5.0, duration_s=10.0, output_tokens=SHORT)
    result = run_validation(scenario, profile=shipped_profile, target="t", draft="d", out=tmp_path,
                            serve=simulator_as_real(shipped_profile), probe=lambda: SAME_SPEED,
                            calibration_probe=ProbeReading(0.012, 0.010, 0.004, 0.005))
    table = result.table
    assert len(table) == 2 * 2 * len(METRICS)  # policies × loads × metrics
    assert set(table["policy"]) == {"none", "fixed:k=3"} and set(table["load"]) == {0.5, 1.0}
    assert (table["error"].dropna() == 0).all() and (table["noise"].dropna() == 0).all()
    assert result.passed
    # replaying the "real" (= sampled) acceptance changes the draws and the model: one i.i.d. rate
    # per request cannot follow the profile's per-position curve, which moved the mean accepted
    # length by 8-10% on this scenario across durations 2-10 s. Close, not equal: 15%.
    fixed = table[(table["policy"] == "fixed:k=3") & (table["metric"] == "mean_accepted_length")]
    assert (fixed["replay_error"].abs() < 0.15).all()
    folder = tmp_path / "runs" / "fixed_k=3@0.5"
    assert sorted(p.name for p in folder.iterdir()) == ["real", "real-repeat", "real-repeat-2", "sim",
                                                        "sim-real-speed", "sim-replay"]
    assert all((run / "trace.json").exists() for run in folder.iterdir())  # each opens in Perfetto
    # the "real" run is the simulator: it ran at the profile's speed, give or take the replay's
    # different step compositions
    factor = read_result(folder / "sim-real-speed").details["decode_time_ratio"]
    assert 0.9 < factor < 1.1
    assert any(note.startswith("forward time, real run / simulator") for note in result.notes)
    assert len(read_result(folder / "sim").requests) == len(read_result(folder / "real").requests)
    # the speed probe before each real run, over the profile's price, in the notes and run details
    probe_line = next(note for note in result.notes if note.startswith("speed probe"))
    assert "(right after the calibration: ×1.20 / ×0.80)" in probe_line
    assert "fixed:k=3 @ 0.5 before real ×1.00 / ×1.00, real repeat ×1.00 / ×1.00" in probe_line
    assert read_result(folder / "real").details["probe_decode_ratio"] == 1.0
    assert set(RUN_FOLDERS) <= set(COLOURS)  # every run has its colour in the report


def write_scenario(tmp_path) -> str:
    raw = small_scenario(rate=5.0, duration_s=2.0, output_tokens=SHORT).raw()
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def invoke(tmp_path, monkeypatch, serve, *extra: str):
    monkeypatch.setattr(validate_run, "import_serve", lambda: serve)
    # the profile the "real" runs use: separate forwards, as realrun runs a step (conftest)
    separate = load_profile(SHIPPED).model_copy(update={"engine": None})
    profile = save_profile(separate, tmp_path / "profile.json")
    args = ["validate", write_scenario(tmp_path), "--target", "tiny-target", "--draft", "tiny-draft",
            "--profile", str(profile), "--out", str(tmp_path / "out"), "--quiet", *extra]
    return CliRunner().invoke(main, args)


def test_cli_passes_with_exit_0_and_writes_table_and_report(shipped_profile, tmp_path, monkeypatch):
    result = invoke(tmp_path, monkeypatch, simulator_as_real(shipped_profile), "--policies", "fixed:k=3",
                    "--loads", "1", "--repeats", "1")
    assert result.exit_code == 0, result.output
    assert "verdict: PASS — all 6 gated metrics within thresholds" in result.output
    out = tmp_path / "out"
    assert (out / "errors.csv").read_text().startswith("policy,load,metric,label,unit,real,sim,error")
    text = (out / "errors.txt").read_text()
    assert "fixed:k=3 @ load 1" in text
    assert "fixed:k=3 @ 1 before real ×" in text  # probed the (random) tiny pair against the profile
    page = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js embedded: works offline
    assert page.count("Plotly.newPlot") == 1  # one figure per policy × load
    for title in ("TTFT CDF", "TPOT CDF", "step time: sim vs real", "mean k over time",
                  "decoding batch size over time"):
        assert title in page


def test_cli_fails_with_exit_1_when_the_simulator_is_off(shipped_profile, tmp_path, monkeypatch):
    slow = simulator_as_real(shipped_profile, slowdown=1.25)  # real decode 25% slower than predicted
    result = invoke(tmp_path, monkeypatch, slow, "--policies", "none;fixed:k=3", "--loads", "1",
                    "--repeats", "1", "--no-replay", "--no-probe")
    assert result.exit_code == 1, result.output
    assert "verdict: FAIL" in result.output
    assert "median TPOT -20.0% (threshold 5%)" in result.output  # 1/1.25 − 1
    # a threshold loose enough lets the TPOT through; throughput and TTFT are untouched by the stretch
    loose = invoke(tmp_path, monkeypatch, slow, "--policies", "fixed:k=3", "--loads", "1", "--repeats", "1",
                   "--no-replay", "--no-probe", "--max-median-error", "21", "--max-p99-error", "21",
                   "--max-throughput-error", "30", "--max-attainment-error", "100")
    assert loose.exit_code == 0, loose.output


def test_repeats_come_after_every_policys_first_run_in_rotated_order(shipped_profile):
    # so that a point's noise spans the load's block of real runs, not seconds, and no policy
    # always runs first (run.py's docstring)
    scenario = small_scenario(rate=5.0, duration_s=2.0, output_tokens=SHORT)
    calls: list[tuple[float, str]] = []
    real = simulator_as_real(shipped_profile)

    def serve(scenario, policy_spec, seed, target, draft, **options):
        calls.append((scenario.workload.rate_scale, str(policy_spec)))
        return real(scenario, policy_spec, seed, target, draft)

    run_validation(scenario, profile=shipped_profile, target="t", draft="d", serve=serve, repeats=3,
                   loads=[0.5, 1.0], progress=False)
    policies = [str(p) for p in scenario.policies]
    rounds = [policies[shift:] + policies[:shift] for shift in (0, 1 % len(policies), 2 % len(policies))]
    assert calls == [(load, policy) for load in (0.5, 1.0) for order in rounds for policy in order]


def test_at_real_speed_recovers_a_slower_machine(shipped_profile, tmp_path):
    # the "real" engine is the simulator on a machine whose decode forwards are 1.5× slower and
    # whose prefills are 0.7× (a machine drifts unevenly; validate measures the two apart)
    slower = scale_forwards(shipped_profile, 1.5, prefill_factor=0.7)
    scenario = small_scenario(rate=5.0, duration_s=10.0, output_tokens=SHORT)
    result = run_validation(scenario, profile=shipped_profile, target="t", draft="d", out=tmp_path,
                            policies=["fixed:k=3"], loads=[0.5], repeats=1,
                            serve=lambda scenario, spec, seed, target, draft, **_: simulate(
                                scenario, spec, seed, profile=slower))
    details = read_result(tmp_path / "runs" / "fixed_k=3@0.5" / "sim-real-speed").details
    assert 1.4 < details["decode_time_ratio"] < 1.6
    assert details["prefill_time_ratio"] == pytest.approx(0.7, rel=0.02)  # the same prompts, prefilled alike
    ttft = result.table.set_index("metric").loc["ttft_p50_s"]
    assert ttft["error"] > 0.3 and abs(ttft["at_real_speed_error"]) < 0.01
    tpot = result.table.set_index("metric").loc["tpot_p50_s"]
    assert tpot["error"] < -0.3  # the profile's speed: a third faster than this "real" machine
    # what is left at real speed is the replay's: one i.i.d. acceptance rate per request is not
    # the profile's per-position curve (the replay alone moved median TPOT by 4-10% on this
    # scenario at factors 1.0-1.5, 2026-12-01)
    assert abs(tpot["at_real_speed_error"]) < 0.10



def test_synthetic_acceptance_needs_no_replay_and_the_worlds_accept_alike(shipped_profile):
    scenario = small_scenario(rate=5.0, duration_s=2.0, output_tokens=SHORT).with_fields(
        {"acceptance": {"kind": "synthetic", "rates": [0.8, 0.6]}})
    result = run_validation(scenario, profile=shipped_profile, target="t", draft="d",
                            serve=simulator_as_real(shipped_profile), repeats=1, loads=[1.0], progress=False)
    for point in result.points:
        assert set(point["runs"]) == {"real", "sim"}  # no replayed acceptance to overwrite the draws
    accepted = result.table[result.table["metric"] == "mean_accepted_length"]
    assert (accepted["error"].dropna() == 0).all()
    assert "synthetic acceptance" in result.notes[0]


def test_the_model_row_takes_the_machines_measured_speed_out(shipped_profile, tmp_path):
    # the "real" engine is the simulator on a machine 1.5× slower in every forward, and says so step
    # by step as realrun does (speed_samples); the model row runs the profile at that speed
    slower = scale_forwards(shipped_profile, 1.5, prefill_factor=1.5)

    def serve(scenario, spec, seed, target, draft, **_):
        run = simulate(scenario, spec, seed, profile=slower)
        ends = (run.steps["t_s"] + run.steps["step_s"]).tolist()
        run.details["speed_samples"] = [[end, 1.5] for end in ends]
        return run

    scenario = small_scenario(rate=5.0, duration_s=10.0, output_tokens=SHORT)
    result = run_validation(scenario, profile=shipped_profile, target="t", draft="d", out=tmp_path,
                            policies=["fixed:k=3"], loads=[0.5], repeats=1, serve=serve, replay=False)
    table = result.table.set_index("metric")
    for metric in ("ttft_p50_s", "tpot_p50_s", "tpot_p99_s", "throughput_tokens_per_s"):
        assert abs(table.loc[metric, "model_error"]) < 1e-6, metric
    assert table.loc["tpot_p50_s", "error"] < -0.2  # the prediction, at the profile's own speed
    assert any("speed(t)" in note and "×1.50-1.50 / ×1.50-1.50" in note for note in result.notes)
    assert (tmp_path / "runs" / "fixed_k=3@0.5" / "sim-model").is_dir()


def test_speed_series_is_a_running_median_held_between_steps():
    # (time, decode ratio, prefill ratio); NaN (None once written to JSON) where a step had none
    samples = [[1.0, 1.0, None], [2.0, 1.0, 0.5], [3.0, 4.0, None], [4.0, 1.0, None], [20.0, 2.0, None]]
    series = SpeedSeries(samples, window_s=5.0)
    assert series.factors_at(0.0) == (1.0, 0.5)  # before the first step: the first's
    assert series.factors_at(3.5)[0] == 1.0  # the lone 4.0 is a spike the median ignores
    assert series.factors_at(25.0) == (2.0, 0.5)  # the one prefill sample holds
    assert series.decode.range() == (1.0, 2.0)
    assert SpeedSeries([[1.0, 1.5]]).factors_at(9.0) == (1.5, 1.5)  # no prefill samples: decode's
    assert not SpeedSeries([]).usable


def test_simulated_steps_take_the_speed_factor(shipped_profile):
    scenario = small_scenario(rate=0.2, duration_s=20.0, output_tokens=SHORT)
    plain = simulate(scenario, "fixed:k=3", 0, profile=shipped_profile)
    scaled = simulate(scenario, "fixed:k=3", 0, profile=shipped_profile, speed=lambda t: (2.0, 3.0))
    assert len(plain.steps) == len(scaled.steps) > 20
    for columns, factor in ((["draft_s", "verify_s"], 2.0), (["prefill_s"], 3.0)):
        assert scaled.steps[columns].to_numpy() == pytest.approx(factor * plain.steps[columns].to_numpy())


def test_the_model_row_can_take_the_real_engines_host_time(shipped_profile):
    # realrun's samples carry each step's host time (s) as a fourth column; its running median
    # replaces the profile's host time per step in the model row
    series = SpeedSeries([[1.0, 1.0, None, 0.0004], [2.0, 1.0, None, 0.0002], [3.0, 1.0, None, 0.0003]])
    assert series.host_at(2.0) == pytest.approx(0.0003)
    assert SpeedSeries([[1.0, 1.5, None]]).host is None  # older samples: the profile's host time
    scenario = small_scenario(rate=0.2, duration_s=20.0, output_tokens=SHORT)
    run = simulate(scenario, "fixed:k=3", 0, profile=shipped_profile, speed=lambda t: (1.0, 1.0),
                   host_time=lambda t: 0.002)
    steps = run.steps
    host = (steps["step_s"] - steps[["draft_s", "verify_s", "prefill_s"]].sum(axis=1)).to_numpy()
    decoding = (steps["batch_size"] > 0).to_numpy()
    assert decoding.any() and not decoding.all()
    assert host[decoding] == pytest.approx(0.002)
    # a prefill-only step keeps the profile's host time: the real series holds only decode steps'
    assert host[~decoding] == pytest.approx(LatencyModel(shipped_profile.latency).prefill_step_overhead_s)


def test_a_calibration_the_probe_disagrees_with_is_said():
    from specsim.validate.run import probe_notes

    point = {"policy": "none", "load": 1.0, "runs": {"real": RunResult(pd.DataFrame(), pd.DataFrame(), {}, {
        "probe_decode_ratio": 1.0, "probe_prefill_ratio": 0.7})}}
    off = probe_notes([point], ProbeReading(0.010, 0.010, 0.0066, 0.010))
    assert len(off) == 2 and "prefill ×0.66" in off[1] and "decode" not in off[1]
    assert len(probe_notes([point], ProbeReading(0.0102, 0.010, 0.0098, 0.010))) == 1  # within 5%: silent


def test_the_profiles_own_resolution_is_said(shipped_profile):
    from specsim.validate.run import calibration_notes

    assert calibration_notes(shipped_profile) == []  # a roofline profile: nothing measured
    spread = {"decode": 0.16, "prefill": 0.04}
    latency = shipped_profile.latency.model_copy(update={"grid_walk_spread": spread})
    line, = calibration_notes(shipped_profile.model_copy(update={"latency": latency}), 0.05)
    assert "16.0% (decode), 4.0% (prefill)" in line and "threshold for decode:" in line
