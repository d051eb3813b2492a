"""Batch 1, light load, i.i.d. acceptance α, fixed k: tokens per step = (1 − α^(k+1)) / (1 − α)."""

import pytest

from sim import simulate
from specsim.profile.synthetic import expected_tokens_per_step, iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario


@pytest.mark.parametrize(("alpha", "k"), [(0.5, 1), (0.6, 3), (0.8, 4), (0.9, 7)])
def test_tokens_per_step_matches_closed_form(alpha: float, k: int) -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, prefill_base_s=0.01,
                             acceptance=iid_acceptance(alpha))
    expected = expected_tokens_per_step(alpha, k)
    # ~50 requests of ~1000 steps each, queued one at a time (batch 1): long outputs, so the cap at
    # the last tokens (k ≤ remaining − 1) touches few steps
    scenario = poisson_scenario(rate=0.5, duration_s=100, prompt_tokens=16,
                                output_tokens=int(1000 * expected))
    steps = simulate(scenario, f"fixed:k={k}", seed=3, profile=profile).steps
    full = steps[(steps["batch_size"] == 1) & (steps["drafted"] == k)]
    assert len(full) > 30_000
    tokens_per_step = (full["accepted"] + 1).mean()
    # per-step tokens have sd 0.5 (α=0.5, k=1) to ≈ 2.3 (α=0.9, k=7): with n ≥ 30k steps the mean's
    # sd is ≤ 0.3% of the expected value for every case here, so 1% is more than 3σ
    assert tokens_per_step == pytest.approx(expected, rel=0.01)
