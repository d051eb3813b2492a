"""The shipped `h100-llama2-7b-vllm` profile: fitted to the two fixture runs, physically plausible,
and its recorded residuals are what the simulator gives today (else: rerun
benchmarks/make_vllm_profile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.fit_engine import replay
from specsim.measured import METRICS, read_benchmark
from specsim.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def profile():
    return load_profile("h100-llama2-7b-vllm")


def test_it_is_a_fused_vllm_engine_with_plausible_coefficients(profile) -> None:
    engine = profile.engine
    assert profile.source == "fitted" and engine.name == "vllm" and engine.composition == "fused"
    assert engine.prefix_caching and engine.fit is not None
    assert 0 < engine.roofline.bandwidth_efficiency <= 1 and 0 < engine.roofline.compute_efficiency <= 1
    assert min(engine.target_forward_s, engine.draft_forward_s, engine.request_overhead_s,
               profile.latency.step_overhead_s) >= 0
    assert all("inference-perf" in path for path in engine.fit.files)
    assert engine.fit.mean_abs_rel_error < 0.05


def test_its_recorded_residuals_are_what_the_simulator_gives(profile, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the profile names its runs relative to the repository
    fit = profile.engine.fit
    recorded = {(r.run, r.metric): r for r in fit.residuals}
    assert len(recorded) == len(fit.residuals) == 3 * len(METRICS)
    for path in fit.files:
        run = read_benchmark(path)
        for stage, simulated in zip(run.stages, replay(run, profile), strict=True):
            for metric in METRICS:
                residual = recorded[(f"{run.name}: {stage.name}", metric)]
                assert residual.measured == pytest.approx(stage.measured[metric], rel=1e-12)
                assert residual.simulated == pytest.approx(simulated[metric], rel=1e-5), (path, metric)
