"""threshold: draft while the batch's mean confidence of the latest pass stays ≥ θ."""

import numpy as np

from specsim.policy import make_policy
from tests.policy.views import ScriptedBackend, make_view, run_step


def test_stops_after_the_pass_whose_mean_drops_below_theta() -> None:
    confidences = np.array([[0.9, 0.8, 0.5, 0.9, 0.9],
                            [0.7, 0.6, 0.6, 0.9, 0.9]])  # means 0.8, 0.7, 0.55, …
    policy = make_policy("threshold:theta=0.6,k_max=5")
    backend = ScriptedBackend(confidences)
    result = run_step(policy, make_view(2), backend)
    assert backend.passes == 3  # pass 3 brought the mean to 0.55 < 0.6: no pass 4
    assert result.drafted.tolist() == [3, 3]
    assert result.verified.tolist() == [3, 3]  # the tokens drafted are all verified


def test_mean_is_over_the_requests_of_the_latest_pass_and_k_max_caps() -> None:
    policy = make_policy("threshold:theta=0.5,k_max=3")
    confidences = np.array([[0.9, 0.9, 0.9, 0.9], [0.1, np.nan, np.nan, np.nan]])
    view = make_view(2)
    from specsim.policy.base import Drafts
    # request 1 drafted one token (capped by its remaining length); pass 2's mean is request 0's
    decision = policy.continue_drafting(view, Drafts(confidences[:, :2], np.array([2, 1])))
    assert decision.all()
    backend = ScriptedBackend(np.full((2, 4), 0.9))
    assert run_step(policy, view, backend).drafted.tolist() == [3, 3]


def test_theta_one_drafts_one_token_when_unsure() -> None:
    policy = make_policy("threshold:theta=1.0")
    result = run_step(policy, make_view(1), ScriptedBackend(np.full((1, 8), 0.99)))
    assert result.drafted.tolist() == [1]
