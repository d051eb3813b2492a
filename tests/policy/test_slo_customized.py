"""slo_customized (AdaServe, sequence form): budget from the cost model, needs from SLO slack,
the SLO phase in ascending need with a per-request cap, then the likeliest tokens globally."""

import numpy as np
import pytest

from specsim.policy import make_policy
from specsim.policy.base import Drafts
from tests.policy.views import estimator, make_view


def test_needed_tokens_follow_the_slack_formula() -> None:
    policy = make_policy("slo_customized")
    # t = 10 − 9 = 1 s decoding, d = 10 − 1 = 9 tokens decoded
    view = make_view(3, slo_tpot_s=np.array([0.2, 0.1, 0.05]))
    need = policy.needed_tokens(view, step_s=0.02, depth=4)
    expected = np.clip((0.02 * 1.05 + 1.0) / np.array([0.2, 0.1, 0.05]) - 9, 1, 5)
    assert need == pytest.approx(expected)
    assert need.tolist()[0] == 1.0  # slack: needs only its own token


def test_budget_and_depth_adapt_to_load() -> None:
    policy = make_policy("slo_customized")
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    assert policy.plan_draft(make_view(4, flat)).tolist() == [8] * 4  # free verify: full depth
    steep = estimator(verify_base_s=0.01, verify_per_token_s=0.0002)
    assert policy.plan_draft(make_view(64, steep)).tolist() == [0] * 64  # compute-bound: none
    # a knee in between: 0.01 + 0.00002·B·q ≤ 1.1·(0.01 + 0.00002·B) → q ≤ 4.2 at B = 16
    knee = estimator(verify_base_s=0.01, verify_per_token_s=0.00002)
    tight = make_policy("slo_customized:knee=0.1")
    assert tight.batch_tokens(make_view(16, knee)) == 64
    assert tight.plan_draft(make_view(16, knee)).tolist() == [4] * 16
    # the default knee, 0.5: q ≤ (0.5·0.01 + 1.5·0.00032)/0.00032 = 17.1 → capped at depth 8
    assert policy.plan_draft(make_view(16, knee)).tolist() == [8] * 16
    assert make_policy("slo_customized:max_tokens=12").plan_draft(make_view(4, flat)).tolist() == [3] * 4


def test_near_deadline_request_is_served_first_within_its_cap_then_the_likeliest_tokens() -> None:
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    policy = make_policy("slo_customized:max_tokens=8")  # budget 6, depth 4, cap ⌊1.2·6/2⌋ = 3
    # request 0 has slack; request 1 is behind: it needs n = 4 tokens this step
    view = make_view(2, flat, slo_tpot_s=np.array([1.0, 1.0 / 12.5]), generated=10, first_token_s=9.0)
    assert policy.plan_draft(view).tolist() == [4, 4]
    confidences = np.array([[0.95, 0.95, 0.95, 0.95], [0.9, 0.9, 0.9, 0.9]])
    granted = policy.plan_verify(view, Drafts(confidences, np.array([4, 4])))
    # SLO phase: request 1 would need all 4 (1 + .9 + .81 + .73 + .66 ≥ 4 only at 4) but the cap
    # is 3; the throughput phase gives the other 3 to request 0's likeliest tokens
    assert granted.tolist() == [3, 3]


def test_throughput_phase_takes_the_highest_path_probabilities_across_requests() -> None:
    flat = estimator(verify_base_s=0.01, verify_per_token_s=0.0)
    policy = make_policy("slo_customized:max_tokens=7")  # budget 4 for 3 requests with slack
    view = make_view(3, flat, slo_tpot_s=10.0)
    policy.plan_draft(view)
    confidences = np.array([[0.9, 0.9, 0.9], [0.5, 0.9, 0.9], [0.99, 0.2, 0.9]])
    # path probabilities: .9 .81 .729 | .5 .45 .405 | .99 .198 .178 → top 4: .99 .9 .81 .729
    granted = policy.plan_verify(view, Drafts(confidences, np.array([3, 3, 3])))
    assert granted.tolist() == [3, 0, 1]
