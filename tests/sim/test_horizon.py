"""A run stops at its horizon (arrival window + drain) with requests still decoding: they are
reported unfinished, never dropped. With every request admitted (decode only), the
multi-step spans reach the horizon too: they once spun there forever."""

from __future__ import annotations

import pytest

from sim import simulate
from specsim.profile.synthetic import iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario

PROFILE = linear_profile(draft_step_s=0.001, verify_base_s=0.02, prefill_base_s=0.02,
                         acceptance=iid_acceptance(0.6))


@pytest.mark.parametrize("policy", ["none", "fixed:k=3"])
def test_requests_cut_off_by_the_horizon_are_reported_unfinished(policy: str) -> None:
    scenario = poisson_scenario(2.0, 4.0, prompt_tokens=32, output_tokens=400, max_batch_size=16,
                                drain_s=1.0)
    result = simulate(scenario, policy, seed=0, profile=PROFILE)
    requests = result.requests
    assert len(requests) > 0
    unfinished = requests["finish_s"].isna()
    assert unfinished.any()  # 400 tokens at 20 ms a step cannot finish within 5 s
    assert result.summary["finished"] == int((~unfinished).sum())
    assert result.details["simulated_until_s"] == pytest.approx(5.0, abs=0.05)
