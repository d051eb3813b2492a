"""scale_forwards: every forward prediction × factor, inside the grids and on their fits; host
overheads unchanged."""

from __future__ import annotations

import pytest

from specsim.profile.latency import LatencyModel
from specsim.profile.scale import scale_forwards
from specsim.profile.synthetic import linear_profile


def test_every_forward_scales_and_overheads_stay() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, verify_per_token_s=1e-4,
                             prefill_base_s=0.02, prefill_per_token_s=1e-5, step_overhead_s=5e-4,
                             plain_step_overhead_s=2e-4)
    base, slow = LatencyModel(profile.latency), LatencyModel(scale_forwards(profile, 1.5).latency)
    # inside the grid (interpolated) and far outside it (the fit)
    for batch, tokens, context in ((3, 2.5, 100.0), (1000, 4.0, 100_000.0)):
        expected = 1.5 * base.verify_s(batch, tokens, context)
        assert slow.verify_s(batch, tokens, context) == pytest.approx(expected)
        assert slow.draft_step_s(batch, context) == pytest.approx(1.5 * base.draft_step_s(batch, context))
    assert slow.prefill_s(2, 300.0, True) == pytest.approx(1.5 * base.prefill_s(2, 300.0, True))
    assert (slow.step_overhead_s, slow.plain_step_overhead_s) == (5e-4, 2e-4)


def test_factor_must_be_positive() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01)
    with pytest.raises(ValueError, match="> 0"):
        scale_forwards(profile, 0.0)
