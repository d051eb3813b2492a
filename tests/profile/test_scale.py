"""scale_forwards: every forward prediction × factor (prefills × their own factor when given),
inside the grids and on their fits; host overheads unchanged."""

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


def test_first_passes_scale_with_decode_and_prefills_by_their_own_factor() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, prefill_base_s=0.02,
                             prefill_per_token_s=1e-5, first_pass_s=0.0015, first_pass_per_token_s=3e-4)
    base = LatencyModel(profile.latency)
    scaled = LatencyModel(scale_forwards(profile, 1.5, prefill_factor=0.8).latency)
    for width in (1, 2, 4):
        expected = 1.5 * base.draft_first_pass_s(3, width, 100.0)
        assert scaled.draft_first_pass_s(3, width, 100.0) == pytest.approx(expected)
    assert scaled.verify_s(3, 3.0, 100.0) == pytest.approx(1.5 * base.verify_s(3, 3.0, 100.0))
    assert scaled.prefill_s(2, 300.0, True) == pytest.approx(0.8 * base.prefill_s(2, 300.0, True))
    assert scaled.prefill_s(2, 300.0, False) == pytest.approx(0.8 * base.prefill_s(2, 300.0, False))


def test_factor_must_be_positive() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01)
    with pytest.raises(ValueError, match="> 0"):
        scale_forwards(profile, 0.0)
    with pytest.raises(ValueError, match="> 0"):
        scale_forwards(profile, 1.0, prefill_factor=-1.0)


def test_a_fused_engine_scales_every_forward_and_keeps_its_host_time() -> None:
    import numpy as np

    from specsim.policy.cost import CostEstimator
    from specsim.profile.engine import EngineModel
    from specsim.profile.roofline import roofline_profile

    profile = roofline_profile("h100", "llama2-7b", "llama-68m")
    slow = scale_forwards(profile, 1.5)

    def cost(p) -> CostEstimator:
        return CostEstimator(LatencyModel(p.latency), True, EngineModel(p.engine))

    base, scaled = cost(profile), cost(slow)
    for step in ((8, None, 3, 3, 24, 900.0, [(300, 0)]), (1, None, 0, 0, 0, 100.0, [])):
        expected = [1.5 * part for part in base.price(*step)[:3]]
        assert scaled.price(*step)[:3] == pytest.approx(expected)
        assert scaled.price(*step)[3] == base.price(*step)[3]
    assert scaled.draft_s(np.full(4, 2), 500.0) == pytest.approx(1.5 * base.draft_s(np.full(4, 2), 500.0))
