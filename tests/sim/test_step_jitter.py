"""Step-to-step jitter (`latency.step_time_spread`, sim/step_jitter.py): draws from the quantiles,
a queue that grows with the service time's variance as Pollaczek–Khinchine says, and the same
tables whether steps run one at a time or as one span."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sim import simulate
from sim.step_jitter import StepJitter
from specsim.profile.schema import Profile
from specsim.profile.synthetic import iid_acceptance, linear_profile
from tests.sim.scenarios import assert_spans_match_step_by_step, poisson_scenario

PREFILL_S = 0.05
DECODE_S = 0.01


def with_spread(profile: Profile, spread: list[float], persistence: float = 0.0) -> Profile:
    latency = profile.latency.model_copy(update={"step_time_spread": spread,
                                                 "step_time_persistence": persistence})
    return Profile.model_validate({**profile.model_dump(), "latency": latency.model_dump()})


def test_factors_are_the_quantiles_equally_often_and_peek_takes_nothing() -> None:
    jitter = StepJitter(np.array([0.5, 1.0, 2.0]), np.random.default_rng(0))
    ahead = jitter.peek(5).copy()
    assert [jitter.next() for _ in range(5)] == ahead.tolist()
    factors = np.array([jitter.next() for _ in range(30_000)])
    assert set(np.unique(factors)) == {0.5, 1.0, 2.0}
    for value in (0.5, 1.0, 2.0):
        assert (factors == value).mean() == pytest.approx(1 / 3, abs=0.015)


def test_spread_must_be_ascending_quantiles() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=DECODE_S)
    with pytest.raises(ValidationError, match="ascending"):
        with_spread(profile, [1.2, 0.9])
    with pytest.raises(ValidationError, match="at least two"):
        with_spread(profile, [1.0])
    with pytest.raises(ValidationError, match="greater than 0"):
        with_spread(profile, [0.0, 1.0])


@pytest.mark.parametrize("utilisation", [0.5, 0.8])
def test_mean_wait_matches_pollaczek_khinchine_with_a_random_service(utilisation: float) -> None:
    # tests/sim/test_queueing_theory.py's M/D/1 queue, each step now scaled by 0.2 or 1.8: an M/G/1
    # queue whose service (one prefill + 4 decode steps, scaled independently) keeps its mean and
    # gains the variance 0.64 · (P² + 4 D²); W = λ E[S²] / (2 (1 − ρ)), 23% above M/D/1's at ρ = 0.8
    output_tokens = 5
    mean_service_s = PREFILL_S + (output_tokens - 1) * DECODE_S
    service_variance = 0.64 * (PREFILL_S**2 + (output_tokens - 1) * DECODE_S**2)
    profile = with_spread(linear_profile(draft_step_s=0.001, verify_base_s=DECODE_S, prefill_base_s=PREFILL_S,
                                         acceptance=iid_acceptance(0.5)), [0.2, 1.8])
    rate = utilisation / mean_service_s
    scenario = poisson_scenario(rate, 40_000 / rate, prompt_tokens=16, output_tokens=output_tokens)
    requests = simulate(scenario, "none", seed=11, profile=profile).requests
    assert requests["finish_s"].notna().all()
    wait_s = requests["ttft_s"].mean() - PREFILL_S  # TTFT = wait + a prefill of mean PREFILL_S
    theory_s = rate * (service_variance + mean_service_s**2) / (2 * (1 - utilisation))
    assert wait_s == pytest.approx(theory_s, rel=0.04)
    deterministic_s = utilisation * mean_service_s / (2 * (1 - utilisation))
    assert wait_s > deterministic_s * 1.05


@pytest.mark.parametrize("persistence", [0.0, 0.7])
@pytest.mark.parametrize("policy", ["none", "fixed:k=3"])
def test_spans_draw_the_same_factors_as_step_by_step(policy: str, persistence: float,
                                                            monkeypatch) -> None:
    base = linear_profile(draft_step_s=0.002, verify_base_s=DECODE_S, prefill_base_s=PREFILL_S,
                          acceptance=iid_acceptance(0.7))
    profile = with_spread(base, [0.6, 0.9, 1.0, 1.3, 2.5], persistence)
    scenario = poisson_scenario(4.0, 20.0, prompt_tokens=32, output_tokens=120, max_batch_size=8)
    spans, step_by_step = assert_spans_match_step_by_step(scenario, policy, profile, monkeypatch)
    assert spans.steps["step_s"].nunique() > 10
    # and the same seed gives the same tables
    again = simulate(scenario, policy, seed=1, profile=profile)
    pd.testing.assert_frame_equal(again.steps, step_by_step.steps)


def test_each_step_is_its_predicted_time_times_one_quantile() -> None:
    # one request at a time, plain decoding: every decode step's forward is exactly DECODE_S
    profile = with_spread(linear_profile(draft_step_s=0.001, verify_base_s=DECODE_S, prefill_base_s=PREFILL_S,
                                         acceptance=iid_acceptance(0.5)), [0.7, 1.0, 1.6])
    scenario = poisson_scenario(1.0, 30.0, prompt_tokens=16, output_tokens=8)
    steps = simulate(scenario, "none", seed=3, profile=profile).steps
    decode = steps[steps["prefill_tokens"] == 0]
    ratios = np.round((decode["verify_s"] / DECODE_S).to_numpy(), 9)
    assert set(ratios) == {0.7, 1.0, 1.6}


def sticky_inflation(persistence: float, span: int) -> float:
    """var(mean of `span` consecutive factors) × span / var(factor) when lag-j correlation is ρ^j."""
    lags = np.arange(1, span)
    return float(1 + 2 * np.sum((1 - lags / span) * persistence**lags))


@pytest.mark.parametrize("persistence", [0.5, 0.8])
def test_sticky_factors_keep_the_quantiles_and_correlate_as_rho_to_the_lag(persistence: float) -> None:
    jitter = StepJitter(np.array([0.5, 1.0, 2.0]), np.random.default_rng(4), persistence)
    factors = np.array([jitter.next() for _ in range(60_000)])  # many 1024-factor blocks: their edges too
    for value in (0.5, 1.0, 2.0):
        assert (factors == value).mean() == pytest.approx(1 / 3, abs=0.02)
    centred = factors - factors.mean()
    for lag in (1, 2, 3):
        correlation = np.dot(centred[:-lag], centred[lag:]) / np.dot(centred, centred)
        assert correlation == pytest.approx(persistence**lag, abs=0.02)
    # spells: a fresh draw equals the kept one a third of the time, so runs of one value last
    # 1 / ((1 − ρ) · 2/3) steps on average
    changes = np.count_nonzero(np.diff(factors))
    assert len(factors) / changes == pytest.approx(1 / ((1 - persistence) * 2 / 3), rel=0.05)


def test_without_persistence_the_stream_is_the_independent_draws() -> None:
    spread = np.array([0.8, 1.0, 1.3])
    factors = StepJitter(spread, np.random.default_rng(9)).peek(3000)
    rng = np.random.default_rng(9)
    expected = np.concatenate([spread[rng.integers(0, 3, size=1024)] for _ in range(3)])[:3000]
    np.testing.assert_array_equal(factors, expected)


@pytest.mark.parametrize("persistence", [0.0, 0.6])
def test_a_requests_tpot_varies_as_the_mean_of_its_sticky_factors(persistence: float) -> None:
    # one request at a time, plain decoding: TPOT = DECODE_S × the mean of its 32 decode steps'
    # factors (plus a constant), so var(TPOT) = DECODE_S² var(factor) / 32 × inflation(ρ, 32):
    # independent draws average out over a request; sticky ones 3.6 times less at ρ = 0.6
    spread = [0.7, 1.0, 1.6]
    profile = with_spread(linear_profile(draft_step_s=0.001, verify_base_s=DECODE_S, prefill_base_s=PREFILL_S,
                                         acceptance=iid_acceptance(0.5)), spread, persistence)
    output_tokens = 33
    scenario = poisson_scenario(1.0, 4000.0, prompt_tokens=16, output_tokens=output_tokens)
    tpot_s = simulate(scenario, "none", seed=5, profile=profile).requests["tpot_s"].to_numpy()
    steps = output_tokens - 1
    theory = DECODE_S**2 * np.var(spread) / steps * sticky_inflation(persistence, steps)
    assert np.var(tpot_s) == pytest.approx(theory, rel=0.1)


def test_persistence_must_be_below_one() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=DECODE_S)
    raw = profile.model_dump()
    raw["latency"]["step_time_persistence"] = 1.0
    with pytest.raises(ValidationError, match="less than 1"):
        Profile.model_validate(raw)
