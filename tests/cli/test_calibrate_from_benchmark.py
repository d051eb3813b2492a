"""`specsim calibrate --from-benchmark`: the fit's residuals printed, a loadable profile written
that says what it was fitted on; bad input and a fit that finds no engine refused, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sim import simulate
from specsim.cli import main
from specsim.profile import load_profile
from specsim.profile.roofline import EngineCoefficients, roofline_profile
from tests.cli.test_bad_input import error_line
from tests.sim.scenarios import poisson_scenario
from tests.sim.test_fit_engine import TRUTH, sent, write_vllm_bench

FIT = ["calibrate", "--gpu", "h100", "--target", "llama2-7b", "--draft", "llama-68m"]


def test_a_fit_prints_its_residuals_and_writes_a_fitted_profile(tmp_path: Path) -> None:
    truth = roofline_profile("h100", "llama2-7b", "llama-68m", coefficients=TRUTH)
    bench = write_vllm_bench(tmp_path / "bench.json", sent(3.0, 20.0, (100, 300), 0), truth, 3.0)
    out = tmp_path / "fitted.json"
    result = CliRunner().invoke(main, [*FIT, "--out", str(out), "--from-benchmark", str(bench),
                                       "--name", "h100-test-vllm"])
    assert result.exit_code == 0, result.output
    assert "mean_e2e_s" in result.output and "request_overhead_s" in result.output
    profile = load_profile(out)
    assert profile.source == "fitted" and profile.name == "h100-test-vllm"
    assert profile.engine.name == "vllm" and profile.engine.fit.files == [str(bench)]
    assert profile.engine.fit.mean_abs_rel_error < 0.05
    scenario = poisson_scenario(rate=2.0, duration_s=3.0, prompt_tokens=200, output_tokens=20,
                                max_batch_size=8)
    assert simulate(scenario, "fixed:k=2", seed=0, profile=profile).summary["finished"] > 0


def test_a_coefficient_the_runs_do_not_tell_is_held_and_said(tmp_path: Path, monkeypatch) -> None:
    import sim.fit_engine

    # as if these runs could not tell the compute efficiency (the shipped vLLM runs cannot)
    monkeypatch.setattr(sim.fit_engine, "not_identified", lambda *_: ["compute_efficiency"])
    truth = roofline_profile("h100", "llama2-7b", "llama-68m", coefficients=TRUTH)
    bench = write_vllm_bench(tmp_path / "bench.json", sent(3.0, 20.0, (100, 300), 0), truth, 3.0)
    out = tmp_path / "fitted.json"
    result = CliRunner().invoke(main, [*FIT, "--out", str(out), "--from-benchmark", str(bench)])
    assert result.exit_code == 0, result.output
    assert "held at the roofline's assumption" in result.output and "compute_efficiency" in result.output
    profile = load_profile(out)
    assert profile.engine.roofline.compute_efficiency == EngineCoefficients().compute_efficiency
    assert "compute_efficiency" not in profile.engine.fit.parameters
    assert "bandwidth_efficiency" in profile.engine.fit.parameters
    assert "which the runs do not tell: compute_efficiency" in profile.notes


def test_a_fit_that_finds_no_engine_writes_nothing(tmp_path: Path) -> None:
    # 30 s to the first token of a 100-token prompt on an idle H100: no coefficient gets there
    document = {"request_rate": 1.0, "input_lens": [100] * 4, "output_lens": [10] * 4, "ttfts": [30.0] * 4,
                "itls": [[0.01] * 9] * 4, "errors": [""] * 4}
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(document))
    out = tmp_path / "fitted.json"
    result = CliRunner().invoke(main, [*FIT, "--out", str(out), "--from-benchmark", str(bench)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]  # after the run's description and the progress bar
    assert last.startswith("error: the fit did not converge") and "mean_ttft_s" in last
    assert not out.exists()


def test_flags_that_measure_a_pair_do_not_mix_with_a_fit(tmp_path: Path) -> None:
    out = str(tmp_path / "x.json")
    message = error_line([*FIT, "--out", out, "--from-benchmark", str(tmp_path), "--quick"])
    assert "--quick" in message and "--from-benchmark" in message


def test_a_file_of_another_format_is_refused_before_any_fit(tmp_path: Path) -> None:
    other = tmp_path / "scenario.json"
    other.write_text(json.dumps({"name": "not a benchmark"}))
    out = tmp_path / "fitted.json"
    message = error_line([*FIT, "--out", str(out), "--from-benchmark", str(other)])
    assert str(other) in message and "not a benchmark result" in message
    assert not out.exists()
