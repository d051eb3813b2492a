"""`calibrate --from-benchmark` round-trips: benchmark results that specsim made with known engine
coefficients are fitted back to them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.fit_engine import fit_engine, fitted_profile, not_identified, replay, replay_table, with_coefficients
from specsim.measured import MeasuredRun, Stage, read_benchmark
from specsim.profile.roofline import EngineCoefficients, roofline_profile
from specsim.workload.requests import Requests

TRUTH = EngineCoefficients(bandwidth_efficiency=0.7, step_overhead_s=1.0e-3, request_overhead_s=0.02)


def write_vllm_bench(path: Path, run: MeasuredRun, profile, rate: float) -> Path:
    """The `vllm bench serve --save-result` file of a simulated run of `run`'s requests."""
    count = len(run.requests)
    table = replay_table(run, profile)
    tpot, output = table["tpot_s"].tolist(), table["output_tokens"].tolist()
    document = {
        "request_rate": rate, "burstiness": 1.0, "max_concurrency": None,
        "start_times": table["arrival_s"].tolist(), "input_lens": table["prompt_tokens"].tolist(),
        "output_lens": output, "ttfts": table["ttft_s"].tolist(),
        "itls": [[gap] * (tokens - 1) for gap, tokens in zip(tpot, output, strict=True)],
        "errors": [""] * count,
    }
    path.write_text(json.dumps(document))
    return path


def sent(rate: float, duration_s: float, prompt_tokens: tuple[int, int], seed: int) -> MeasuredRun:
    """Poisson arrivals: evenly spaced ones meet the step boundaries in a fixed pattern that a small
    change of step time reshuffles, which makes a short run's mean TTFT jump about."""
    rng = np.random.default_rng(seed)
    count = int(rate * duration_s)
    arrival_s = np.cumsum(rng.exponential(1.0 / rate, count))
    requests = Requests(arrival_s=arrival_s - arrival_s[0], prompt_tokens=rng.integers(*prompt_tokens, count),
                        output_tokens=np.full(count, 100), category=np.zeros(count, dtype=np.int64),
                        categories=("chat",))
    return MeasuredRun("made", Path("made"), "specsim", requests, [Stage("all", 0, count, {})], 128, 2048)


@pytest.fixture(scope="module")
def benchmark_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bench")
    truth = roofline_profile("h100", "llama2-7b", "llama-68m", coefficients=TRUTH)
    # short prompts show the step's fixed costs and the request overhead; long ones the KV read
    # (bandwidth) and the prefill (compute)
    return [write_vllm_bench(folder / f"prompts{low}.json", sent(3.0, 30.0, (low, high), seed), truth, 3.0)
            for seed, (low, high) in enumerate(((100, 300), (2500, 3500)))]


def test_the_reader_gives_back_what_the_simulator_measured(benchmark_files) -> None:
    truth = roofline_profile("h100", "llama2-7b", "llama-68m", coefficients=TRUTH)
    run = read_benchmark(benchmark_files[1])
    assert run.benchmark == "vllm-bench" and len(run.requests) == 90
    simulated = replay(run, with_coefficients(truth, TRUTH))[0]
    for metric, measured in run.stages[0].measured.items():
        assert simulated[metric] == pytest.approx(measured, rel=1e-9), metric


def test_a_fit_recovers_the_coefficients_the_results_were_made_with(benchmark_files) -> None:
    runs = [read_benchmark(path) for path in benchmark_files]
    result = fit_engine(runs, "h100", "llama2-7b", "llama-68m", None)  # starts from the roofline's priors
    fitted = result.coefficients
    assert result.mean_abs_rel_error < 0.01
    # far from the priors it started at (0.8, 10 ms, 0.5 ms), close to the truth
    assert fitted.bandwidth_efficiency == pytest.approx(TRUTH.bandwidth_efficiency, abs=0.03)
    assert fitted.request_overhead_s == pytest.approx(TRUTH.request_overhead_s, abs=1.5e-3)
    # one target forward per step: only the sum of its fixed cost and the step's host time shows
    per_step_s = fitted.step_overhead_s + fitted.target_forward_s
    assert per_step_s == pytest.approx(TRUTH.step_overhead_s + TRUTH.target_forward_s, abs=0.2e-3)
    assert "draft_forward_s" not in result.fitted  # no run drafted: nothing to fit it on
    assert result.held == []  # the long prompts' prefills tell the compute efficiency apart
    profile = fitted_profile(result, runs, "h100", "llama2-7b", "llama-68m", None, "specsim")
    assert profile.source == "fitted" and profile.engine.fit is not None
    assert profile.engine.fit.files == [str(path) for path in benchmark_files]


def test_a_coefficient_the_runs_do_not_tell_is_held_at_its_prior() -> None:
    fitted = EngineCoefficients(bandwidth_efficiency=0.7, compute_efficiency=0.45, step_overhead_s=1e-3)

    def mean_abs_error(coefficients: EngineCoefficients) -> float:  # blind to the compute efficiency
        return abs(coefficients.bandwidth_efficiency - 0.7) + 10 * abs(coefficients.step_overhead_s - 1e-3)

    names = ["bandwidth_efficiency", "compute_efficiency", "step_overhead_s"]
    assert not_identified(fitted, names, mean_abs_error) == ["compute_efficiency"]
