"""oracle: knows each request's accepted prefix and picks the goodput-best cap on it."""

import numpy as np
import pytest

from specsim.policy import make_policy
from tests.policy.views import estimator, make_view


def brute_force(future: np.ndarray, cost) -> np.ndarray:
    best = max(range(9), key=lambda cap: (len(future) + np.minimum(future, cap).sum())
               / cost.step_s(np.minimum(future, cap), None, 512) - 1e-9 * cap)
    return np.minimum(future, best)


@pytest.mark.parametrize("seed", range(5))
def test_plans_the_best_cap_on_the_known_accepted_prefixes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cost = estimator(draft_step_s=0.001, verify_base_s=0.005, verify_per_token_s=0.00005)
    future = rng.integers(0, 9, 32)
    view = make_view(32, cost, future_accepted=future)
    planned = make_policy("oracle").plan_draft(view)
    assert planned.tolist() == brute_force(future, cost).tolist()
    assert np.all(planned <= future)  # nothing drafted is rejected


def test_is_simulator_only_and_refuses_a_view_without_the_future() -> None:
    policy = make_policy("oracle")
    assert policy.simulator_only
    with pytest.raises(RuntimeError, match="simulator only"):
        policy.plan_draft(make_view(2))
