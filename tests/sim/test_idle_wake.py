"""The first step after a replica sat idle runs its forwards (1 + idle_wake_factor) slower; every
other step runs at the profile's times."""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate
from specsim.profile.synthetic import linear_profile
from tests.sim.scenarios import poisson_scenario

PREFILL_S, VERIFY_S = 0.03, 0.02


def served(**latency) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrival, first token and finish times of requests served one at a time, and whether each
    found the replica idle."""
    profile = linear_profile(draft_step_s=0.001, verify_base_s=VERIFY_S, prefill_base_s=PREFILL_S, **latency)
    # one request at a time (batch 1, FIFO): request i finds the replica idle iff it arrives after
    # request i − 1 finished; otherwise its prefill starts the moment i − 1 finishes
    scenario = poisson_scenario(4.0, 30.0, prompt_tokens=16, output_tokens=5)
    requests = simulate(scenario, "none", seed=0, profile=profile).requests.sort_values("arrival_s")
    arrival = requests["arrival_s"].to_numpy()
    first_token = requests["first_token_s"].to_numpy()
    finish = requests["finish_s"].to_numpy()
    idle = np.concatenate([[True], arrival[1:] >= finish[:-1]])
    assert 20 < idle.sum() < len(idle)  # both kinds occur
    return arrival, first_token, finish, idle


@pytest.mark.parametrize("factor", [0.0, 0.5])
def test_only_the_step_after_an_idle_wait_is_slowed(factor: float) -> None:
    arrival, first_token, finish, idle = served(idle_wake_factor=factor)
    np.testing.assert_allclose((first_token - arrival)[idle], PREFILL_S * (1 + factor), rtol=1e-9)
    np.testing.assert_allclose((first_token[1:] - finish[:-1])[~idle[1:]], PREFILL_S, rtol=1e-9)
    # the decode steps that follow are warm: 4 more tokens at the plain step time each
    np.testing.assert_allclose(finish - first_token, 4 * VERIFY_S, rtol=1e-9)


def test_the_step_after_an_idle_wait_starts_late_and_a_prefill_step_pays_its_host_time() -> None:
    wake_s, prefill_host_s = 0.005, 0.002
    arrival, first_token, finish, idle = served(idle_wake_s=wake_s, prefill_step_overhead_s=prefill_host_s)
    np.testing.assert_allclose((first_token - arrival)[idle], wake_s + PREFILL_S + prefill_host_s, rtol=1e-9)
    np.testing.assert_allclose((first_token[1:] - finish[:-1])[~idle[1:]], PREFILL_S + prefill_host_s,
                               rtol=1e-9)
    np.testing.assert_allclose(finish - first_token, 4 * VERIFY_S, rtol=1e-9)  # decode steps: no host time
