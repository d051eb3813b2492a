"""slo_customized (AdaServe, sequence form): a fixed token budget per step (the published rule;
`budget=knee` derives it from the cost model), needs from SLO slack, the SLO phase in ascending
need with a per-request cap, then the likeliest tokens globally."""

import numpy as np
import pytest

from specsim.policy import make_policy
from specsim.policy.base import Drafts
from tests.policy.views import estimator, make_view


@pytest.mark.parametrize(("spec", "decoded"), [("slo_customized", 10), ("slo_customized:budget=knee", 9)])
def test_needed_tokens_follow_the_slack_formula(spec: str, decoded: int) -> None:
    policy = make_policy(spec)
    # t = 10 − 9 = 1 s decoding; d = 10 tokens decoded (the source counts the first; knee: 9)
    view = make_view(3, slo_tpot_s=np.array([0.2, 0.1, 0.05]))
    need = policy.needed_tokens(view, step_s=0.02, depth=4)
    expected = np.clip((0.02 * 1.05 + 1.0) / np.array([0.2, 0.1, 0.05]) - decoded, 1, 5)
    assert need == pytest.approx(expected)
    assert need.tolist()[0] == 1.0  # slack: needs only its own token


def test_published_budget_is_the_steps_token_budget_and_depth_its_share() -> None:
    policy = make_policy("slo_customized:tree=false")  # the sequence form: the depth is each k
    steep = estimator(verify_base_s=0.01, verify_per_token_s=0.0002)
    # N = the scenario's step budget whatever the cost: ⌈2048/64⌉ = 32 → depth 8; ⌈2048/1024⌉ = 2
    assert policy.plan_draft(make_view(64, steep, max_batch_tokens=2048)).tolist() == [8] * 64
    assert policy.plan_draft(make_view(1024, steep, max_batch_tokens=2048)).tolist() == [2] * 1024
    # at least one draft token, however full the batch (a budget of B leaves none to verify)
    assert policy.plan_draft(make_view(2048, steep, max_batch_tokens=2048)).tolist() == [1] * 2048
    assert make_policy("slo_customized:max_tokens=12").plan_draft(make_view(4, steep)).tolist() == [3] * 4


def test_tree_form_reserves_the_budget_and_drafts_depth_deep_beams() -> None:
    policy = make_policy("slo_customized")  # trees, width 4
    steep = estimator(verify_base_s=0.01, verify_per_token_s=0.0002)
    view = make_view(64, steep, max_batch_tokens=2048)
    # each request's reservation is its share of N − B, ⌈1984/64⌉ = 31 nodes (≤ its 8 × 4 tree)
    budgets = policy.plan_draft(view)
    assert budgets.tolist() == [31] * 64
    assert policy.plan_tree(view, budgets).shape == (64, 8) and (policy.plan_tree(view, budgets) == 4).all()
    # a light batch: the share would pass the tree's size, so the tree's size bounds it
    assert policy.plan_draft(make_view(4, steep, max_batch_tokens=2048)).tolist() == [32] * 4


def test_knee_budget_and_depth_adapt_to_load() -> None:
    policy = make_policy("slo_customized:budget=knee")
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    assert policy.plan_draft(make_view(4, flat)).tolist() == [8] * 4  # free verify: full depth
    steep = estimator(verify_base_s=0.01, verify_per_token_s=0.0002)
    assert policy.plan_draft(make_view(64, steep)).tolist() == [0] * 64  # compute-bound: none
    # a knee in between: 0.01 + 0.00002·B·q ≤ 1.1·(0.01 + 0.00002·B) → q ≤ 4.2 at B = 16
    knee = estimator(verify_base_s=0.01, verify_per_token_s=0.00002)
    tight = make_policy("slo_customized:budget=knee,knee=0.1")
    assert tight.batch_tokens(make_view(16, knee)) == 64
    assert tight.plan_draft(make_view(16, knee)).tolist() == [4] * 16
    # the default knee, 0.5: q ≤ (0.5·0.01 + 1.5·0.00032)/0.00032 = 17.1 → capped at depth 8
    assert policy.plan_draft(make_view(16, knee)).tolist() == [8] * 16


def one_request_behind(spec: str) -> tuple[list[int], list[int]]:
    """Two requests drafting 4 tokens each under `spec`: request 0 has slack, request 1 is behind
    its TPOT target. (The planned depths, the tokens granted to verification.)"""
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    policy = make_policy(spec)
    view = make_view(2, flat, slo_tpot_s=np.array([1.0, 1.0 / 12.5]), generated=10, first_token_s=9.0)
    planned = policy.plan_draft(view).tolist()
    confidences = np.array([[0.95, 0.95, 0.95, 0.95], [0.9, 0.9, 0.9, 0.9]])
    return planned, policy.plan_verify(view, Drafts(confidences, np.array([4, 4]))).tolist()


def test_near_deadline_request_is_served_first_within_its_cap_then_the_likeliest_tokens() -> None:
    # budget 6, depth 4, cap ⌊1.2·6/2⌋ = 3; request 1 needs n = 4 tokens this step
    planned, granted = one_request_behind("slo_customized:budget=knee,max_tokens=8")
    assert planned == [4, 4]
    # SLO phase: request 1 would need all 4 (1 + .9 + .81 + .73 + .66 ≥ 4 only at 4) but the cap
    # is 3; the throughput phase gives the other 3 to request 0's likeliest tokens
    assert granted == [3, 3]


def test_throughput_phase_takes_the_highest_path_probabilities_across_requests() -> None:
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    policy = make_policy("slo_customized:max_tokens=7")  # budget 4 for 3 requests with slack
    view = make_view(3, flat, slo_tpot_s=10.0)
    policy.plan_draft(view)
    confidences = np.array([[0.9, 0.9, 0.9], [0.5, 0.9, 0.9], [0.99, 0.2, 0.9]])
    # path probabilities: .9 .81 .729 | .5 .45 .405 | .99 .198 .178 → top 4: .99 .9 .81 .729
    granted = policy.plan_verify(view, Drafts(confidences, np.array([3, 3, 3])))
    assert granted.tolist() == [3, 0, 1]


def test_published_cap_and_need_count_every_decoded_token() -> None:
    # budget 6, depth 4, cap ⌊1.2·8/2⌋ = 4
    planned, granted = one_request_behind("slo_customized:max_tokens=8")
    assert planned == [4, 4]
    # request 1 needs (T·1.05 + 1)·12.5 − 10 ≈ 2.6 tokens: 1 + .9 + .81 ≥ 2.6 at 2 draft tokens;
    # the other 4 of the budget go to the likeliest: request 0's .95 .90 .86 .81 over .73
    assert granted == [4, 2]
