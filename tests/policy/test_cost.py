"""The cost estimator's step times charge the overhead of the step's kind: the speculative one
when some request drafts, the plain one when nobody does."""

from __future__ import annotations

import numpy as np
import pytest

from specsim.policy.cost import CostEstimator
from specsim.profile.latency import LatencyModel
from specsim.profile.synthetic import linear_profile

DRAFT_S, VERIFY_S, SPECULATIVE_S, PLAIN_S = 0.001, 0.01, 0.0005, 0.0002


def estimator(plain_overhead_s: float | None) -> CostEstimator:
    profile = linear_profile(draft_step_s=DRAFT_S, verify_base_s=VERIFY_S, step_overhead_s=SPECULATIVE_S,
                             plain_step_overhead_s=plain_overhead_s)
    return CostEstimator(LatencyModel(profile.latency), uses_draft=True)


def test_plain_steps_pay_the_plain_overhead() -> None:
    cost = estimator(PLAIN_S)
    assert cost.uniform_step_s(4, 0, 100.0) == pytest.approx(VERIFY_S + PLAIN_S)
    assert cost.step_s(np.zeros(4, dtype=np.int64), None, 100.0) == pytest.approx(VERIFY_S + PLAIN_S)


def test_drafting_steps_pay_the_speculative_overhead() -> None:
    cost = estimator(PLAIN_S)
    assert cost.uniform_step_s(4, 3, 100.0) == pytest.approx(3 * DRAFT_S + VERIFY_S + SPECULATIVE_S)
    lengths = np.array([0, 2, 1, 0])  # one pass per drafted position, over whoever drafts it
    assert cost.step_s(lengths, None, 100.0) == pytest.approx(2 * DRAFT_S + VERIFY_S + SPECULATIVE_S)


def test_a_profile_without_a_plain_overhead_charges_one_overhead() -> None:
    cost = estimator(None)
    assert cost.uniform_step_s(4, 0, 100.0) == pytest.approx(VERIFY_S + SPECULATIVE_S)
