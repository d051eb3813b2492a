"""One step, one price: the step the simulator charges is the step a policy's forecast prices,
prefill chunks and the engine's composition included; the multi-step spans charge the same."""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate
from sim.sampling import SampledSpeculation
from specsim.policy.simple import FixedLength
from specsim.profile import load_profile
from specsim.profile.roofline import roofline_profile
from tests.sim.scenarios import assert_spans_match_step_by_step, poisson_scenario

ACCEPTANCE = load_profile("h100-llama2-7b-llama-68m").acceptance


def fused_profile():
    return roofline_profile("h100", "llama2-7b", "llama-68m", acceptance=ACCEPTANCE)


def separate_profile():
    return roofline_profile("h100", "llama2-7b", "llama-68m", acceptance=ACCEPTANCE, composition="separate")


def chunked_scenario(**extra):
    # prompts longer than the step budget's room beside the decode rows: chunks ride on decode steps
    return poisson_scenario(rate=20.0, duration_s=2.0, prompt_tokens=700, output_tokens=40,
                            max_batch_size=64, cluster__max_batch_tokens=512, **extra)


@pytest.mark.parametrize("fused", [True, False])
def test_every_decode_step_costs_what_the_policy_forecast(fused: bool, monkeypatch) -> None:
    profile = fused_profile() if fused else separate_profile()
    forecasts: dict[float, float] = {}
    planned = FixedLength.plan_draft

    def forecasting(self, view):
        forecasts[view.now_s] = view.cost.uniform_step_s(view.batch_size, self.k, view.mean_context_tokens)
        return planned(self, view)

    monkeypatch.setattr(FixedLength, "plan_draft", forecasting)
    monkeypatch.setattr(SampledSpeculation, "span_steps", False)  # ask the policy at every step
    steps = simulate(chunked_scenario(), "fixed:k=2", seed=3, profile=profile).steps
    uncapped = steps[(steps["batch_size"] > 0) & (steps["drafted"] == 2 * steps["batch_size"])]
    mixed = uncapped[uncapped["prefill_tokens"] > 0]
    assert len(mixed) > 20  # the check covers steps that carry prompt chunks
    forecast = uncapped["t_s"].map(forecasts)
    np.testing.assert_allclose(uncapped["step_s"], forecast, rtol=1e-12)


@pytest.mark.parametrize("policy", ["none", "fixed:k=3"])
def test_spans_charge_fused_steps_as_step_by_step(policy: str, monkeypatch) -> None:
    scenario = poisson_scenario(rate=3.0, duration_s=6.0, prompt_tokens=200, output_tokens=120,
                                max_batch_size=16)
    spans, _ = assert_spans_match_step_by_step(scenario, policy, fused_profile(), monkeypatch)
    assert len(spans.steps) > 100


def test_a_fused_step_prices_its_chunks_below_a_separate_prefill() -> None:
    fused = simulate(chunked_scenario(), "none", seed=3, profile=fused_profile())
    separate = simulate(chunked_scenario(), "none", seed=3, profile=separate_profile())
    assert fused.steps["prefill_s"].sum() < 0.8 * separate.steps["prefill_s"].sum()
    assert fused.summary["ttft_p50_s"] < separate.summary["ttft_p50_s"]


def test_the_request_overhead_delays_first_and_last_token_alike() -> None:
    scenario = poisson_scenario(rate=0.5, duration_s=20.0, prompt_tokens=100, output_tokens=20,
                                max_batch_size=8)
    profile = fused_profile()
    engine = profile.engine.model_copy(update={"request_overhead_s": 0.0})
    without = profile.model_copy(update={"engine": engine})
    slow = simulate(scenario, "none", seed=2, profile=profile)
    fast = simulate(scenario, "none", seed=2, profile=without)
    overhead = profile.engine.request_overhead_s
    assert overhead > 0
    # requests that meet an idle engine: each starts its prefill `overhead` later, nothing else moves
    np.testing.assert_allclose(slow.requests["ttft_s"] - fast.requests["ttft_s"], overhead, rtol=1e-6)
    np.testing.assert_allclose(slow.requests["e2e_s"] - fast.requests["e2e_s"], overhead, rtol=1e-6)
