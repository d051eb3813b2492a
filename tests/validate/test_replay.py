"""Acceptance replay: the simulator, given each request's per-token acceptance, reproduces it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.cluster import simulate
from specsim.scenario import build_requests
from specsim.validate.acceptance import measured_acceptance

from .conftest import small_scenario


def test_replay_reproduces_known_per_request_acceptance(shipped_profile):
    scenario = small_scenario(rate=15.0, duration_s=3.0, output_tokens={"kind": "fixed", "value": 300},
                              drain_s=1e6)
    requests = build_requests(scenario, 0)
    count = len(requests)
    levels = np.array([0.0, 0.3, 0.6, 0.9, 1.0])
    known = levels[np.arange(count) % len(levels)]
    run = simulate(scenario, "fixed:k=4", 0, profile=shipped_profile, requests=requests,
                   acceptance_replay=known)
    assert run.requests["finish_s"].notna().all()
    measured = measured_acceptance(run.requests)
    # the extremes are reproduced exactly: nothing accepted, or nothing ever rejected
    assert (run.requests["accepted_tokens"][known == 0.0] == 0).all()
    assert (run.requests["rejected_steps"][known == 1.0] == 0).all()
    np.testing.assert_array_equal(measured[known == 0.0], 0.0)
    np.testing.assert_array_equal(measured[known == 1.0], 1.0)
    # in between: pooled per level, within 4 binomial standard errors of the known rate
    table = run.requests
    for level in (0.3, 0.6, 0.9):
        chosen = known == level
        accepted = table["accepted_tokens"][chosen].sum()
        trials = accepted + table["rejected_steps"][chosen].sum()
        error = np.sqrt(level * (1 - level) / trials)
        assert abs(accepted / trials - level) < 4 * error, (level, accepted / trials, trials)
    # and the accepted length per speculating step follows (1 − α^(k+1)) / (1 − α) for α = 0.6
    steps_per_request = table["steps"][known == 0.6]
    produced = table["output_tokens"][known == 0.6] - 1  # the first token comes from the prefill
    expected = (1 - 0.6 ** 5) / (1 - 0.6)
    assert abs(produced.sum() / steps_per_request.sum() - expected) < 0.05 * expected


def test_replay_round_trip_and_fallback(shipped_profile):
    """A replay of a run's own measured acceptance reproduces its overall acceptance; NaN rates
    (requests that never verified) fall back to the profile's sampling."""
    scenario = small_scenario(rate=15.0, duration_s=3.0, output_tokens={"kind": "fixed", "value": 100})
    requests = build_requests(scenario, 1)
    first = simulate(scenario, "fixed:k=3", 1, profile=shipped_profile, requests=requests)
    replayed = simulate(scenario, "fixed:k=3", 1, profile=shipped_profile, requests=requests,
                        acceptance_replay=measured_acceptance(first.requests))
    a, b = first.summary["acceptance_rate"], replayed.summary["acceptance_rate"]
    assert abs(a - b) < 0.03, (a, b)
    sampled = simulate(scenario, "fixed:k=3", 1, profile=shipped_profile, requests=requests,
                       acceptance_replay=np.full(len(requests), np.nan))
    pd.testing.assert_frame_equal(sampled.requests, first.requests)  # all NaN: exactly the sampled run


def test_measured_acceptance_definition():
    table = pd.DataFrame({"request_id": [2, 0, 1], "accepted_tokens": [6, 0, 9],
                          "verified_tokens": [12, 0, 9], "rejected_steps": [2, 0, 0]})
    np.testing.assert_array_equal(measured_acceptance(table), [np.nan, 1.0, 0.75])
    legacy = table.drop(columns="rejected_steps")  # tables written before rejected_steps existed
    np.testing.assert_array_equal(measured_acceptance(legacy), [np.nan, 1.0, 0.5])
