"""goodput (SmartSpec): k maximising Σ E(k; α̂ᵢ) / T(B, k), with k = 0 favoured by the margin."""

import numpy as np
import pytest

from specsim.policy import make_policy
from specsim.policy.base import MEMORY_SLOTS
from specsim.policy.estimates import expected_tokens
from tests.policy.views import estimator, make_view

# the project's variant, as it ran before the published rule became the default
PER_REQUEST = "goodput:alpha=per_request,every=1"


def memory_with(alpha: float, batch: int) -> np.ndarray:
    """Per-request estimates α̂ = alpha, held as 1000 trials (so one step barely moves them)."""
    memory = np.full((batch, MEMORY_SLOTS), np.nan)
    memory[:, 0], memory[:, 1] = 1000 * alpha, 1000.0
    return memory


def brute_force(alpha: float, batch: int, cost, k_max: int = 8, margin: float = 1.1) -> int:
    values = [batch * float(expected_tokens(alpha, k)) / cost.uniform_step_s(batch, k, 512)
              for k in range(k_max + 1)]
    values[0] *= margin
    return int(np.argmax(values))


def test_low_acceptance_on_a_compute_bound_batch_picks_zero() -> None:
    cost = estimator(draft_step_s=0.001, verify_base_s=0.01, verify_per_token_s=0.0002)
    view = make_view(128, cost, memory=memory_with(0.2, 128))
    assert make_policy(PER_REQUEST).plan_draft(view).tolist() == [0] * 128


def test_high_acceptance_on_a_small_batch_picks_a_long_draft() -> None:
    cost = estimator(draft_step_s=0.0005, verify_base_s=0.01, verify_per_token_s=0.00001)
    view = make_view(2, cost, memory=memory_with(0.9, 2))
    k = int(make_policy(PER_REQUEST).plan_draft(view)[0])
    assert k >= 6
    assert k == brute_force(0.9, 2, cost)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("batch", [1, 16, 64, 256])
def test_choice_is_the_rule_s_maximum(alpha: float, batch: int) -> None:
    cost = estimator(draft_step_s=0.0004, verify_base_s=0.008, verify_per_token_s=0.00003)
    view = make_view(batch, cost, memory=memory_with(alpha, batch))
    assert int(make_policy(PER_REQUEST).plan_draft(view)[0]) == brute_force(alpha, batch, cost)


def test_margin_keeps_k_zero_unless_speculation_wins_by_ten_percent() -> None:
    # α = 0.1: E(1) = 1.1 tokens for T(1) = 1.05·T(0): 4.8% better, below the 10% margin
    cost = estimator(draft_step_s=0.0005, verify_base_s=0.01)
    view = make_view(1, cost, memory=memory_with(0.1, 1))
    assert make_policy(PER_REQUEST).plan_draft(view).tolist() == [0]
    view = make_view(1, cost, memory=memory_with(0.1, 1))
    assert make_policy(PER_REQUEST + ",margin=1.0").plan_draft(view).tolist() == [1]


def test_estimate_starts_at_alpha0_and_follows_the_ema_of_accepted_over_trials() -> None:
    policy = make_policy(PER_REQUEST)
    view = make_view(3, last_verified=np.array([-1, 4, 4]), last_accepted=np.array([-1, 4, 1]))
    alpha = policy.acceptance(view)
    # fresh: prior 0.7/1; request 1 accepted all 4 (4 trials), request 2 accepted 1 then a reject
    assert alpha[0] == pytest.approx(0.7)
    assert alpha[1] == pytest.approx((0.85 * 0.7 + 0.15 * 4) / (0.85 + 0.15 * 4))
    assert alpha[2] == pytest.approx((0.85 * 0.7 + 0.15 * 1) / (0.85 + 0.15 * 2))
    # a step that verified nothing changes nothing
    again = make_view(3, memory=view.memory, last_verified=np.zeros(3, dtype=np.int64),
                      last_accepted=np.zeros(3, dtype=np.int64))
    assert policy.acceptance(again) == pytest.approx(alpha)


def test_every_reuses_k_between_recomputations() -> None:
    cost = estimator(draft_step_s=0.0005, verify_base_s=0.01)
    policy = make_policy("goodput:alpha=per_request,every=3")
    high, low = memory_with(0.9, 1), memory_with(0.05, 1)
    first = int(policy.plan_draft(make_view(1, cost, memory=high))[0])
    assert first > 0
    assert int(policy.plan_draft(make_view(1, cost, memory=low))[0]) == first  # reused
    assert int(policy.plan_draft(make_view(1, cost, memory=low))[0]) == first
    assert int(policy.plan_draft(make_view(1, cost, memory=low))[0]) == 0  # recomputed


# -- the published rule (the default) -------------------------------------------------------------

def outcome(drafted: int, accepted: int):
    from specsim.policy.base import StepOutcome

    return StepOutcome(now_s=0.0, request_ids=np.zeros(1, dtype=np.int64), drafted=np.array([drafted]),
                       verified=np.array([drafted]), accepted=np.array([accepted]),
                       confidences=np.empty((1, 0)), draft_s=0.0, verify_s=0.0, prefill_s=0.0, step_s=0.0,
                       mean_context_tokens=0.0)


def test_published_rule_drafts_nothing_until_its_first_recomputation() -> None:
    cost = estimator(draft_step_s=0.0005, verify_base_s=0.01, verify_per_token_s=0.00001)
    policy = make_policy("goodput")
    assert (policy.every, policy.alpha) == (20, "batch")
    ks = [int(policy.plan_draft(make_view(2, cost))[0]) for _ in range(20)]
    assert ks == [0] * 20
    # at step 20, α₀ = 0.7 (nothing drafted yet to update it) values a long draft on this batch
    assert int(policy.plan_draft(make_view(2, cost))[0]) == brute_force(0.7, 2, cost)


def test_published_alpha_is_one_ema_of_the_cumulative_accepted_over_drafted() -> None:
    cost = estimator(draft_step_s=0.0005, verify_base_s=0.01, verify_per_token_s=0.00001)
    policy = make_policy("goodput:every=2")
    policy.plan_draft(make_view(1, cost))  # step 0: k = 0
    policy.observe(outcome(drafted=40, accepted=30))
    policy.plan_draft(make_view(1, cost))  # step 1: k reused
    policy.plan_draft(make_view(1, cost))  # step 2: recomputed with the cumulative 30/40
    assert policy._batch_alpha == pytest.approx(0.85 * 0.7 + 0.15 * 0.75)
    policy.observe(outcome(drafted=10, accepted=0))
    policy.plan_draft(make_view(1, cost))
    policy.plan_draft(make_view(1, cost))  # step 4: cumulative 30/50, folded into the EMA again
    assert policy._batch_alpha == pytest.approx(0.85 * (0.85 * 0.7 + 0.15 * 0.75) + 0.15 * 0.6)
