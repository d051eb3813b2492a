"""Batch 1, light load, i.i.d. acceptance α, fixed k: tokens per step = (1 − α^(k+1)) / (1 − α)."""

import pytest

from sim import simulate
from specsim.profile.synthetic import expected_tokens_per_step, iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario


@pytest.mark.parametrize(("alpha", "k"), [(0.5, 1), (0.6, 3), (0.8, 4), (0.9, 7)])
def test_tokens_per_step_matches_closed_form(alpha: float, k: int) -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, prefill_base_s=0.01,
                             acceptance=iid_acceptance(alpha))
    # long outputs, so the cap at the last tokens (k ≤ remaining − 1) touches few steps
    scenario = poisson_scenario(rate=0.5, duration_s=3000, prompt_tokens=16, output_tokens=2000)
    steps = simulate(scenario, f"fixed:k={k}", seed=3, profile=profile).steps
    full = steps[(steps["batch_size"] == 1) & (steps["drafted"] == k)]
    assert len(full) > 20_000
    tokens_per_step = (full["accepted"] + 1).mean()
    # per-step tokens have sd ≤ (k+1)/2, so with n ≥ 20k steps the mean's sd is ≤ 0.03 tokens
    # (≈ 1% of the smallest expected value) in the worst case here, far less for these α
    assert tokens_per_step == pytest.approx(expected_tokens_per_step(alpha, k), rel=0.01)
