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


# -- one step, one price -----------------------------------------------------------------------

def fused_roofline(**constants: float):
    from specsim.profile.roofline import EngineCoefficients, roofline_profile

    return roofline_profile("h100", "llama2-7b", "llama-68m", coefficients=EngineCoefficients(**constants))


def fused_estimator(profile, uses_draft: bool = True) -> CostEstimator:
    from specsim.profile.engine import EngineModel

    return CostEstimator(LatencyModel(profile.latency), uses_draft, EngineModel(profile.engine))


@pytest.mark.parametrize(("batch", "tokens", "context"), [(1, 1, 512), (8, 5, 1024), (64, 1, 2048),
                                                          (256, 9, 8192)])
def test_a_fused_decode_forward_is_the_roofline_grid_plus_the_fixed_cost(batch, tokens, context) -> None:
    profile = fused_roofline(target_forward_s=0.001)
    cost, latency = fused_estimator(profile), LatencyModel(profile.latency)
    assert cost.verify_pass_s(batch, tokens, context) == pytest.approx(
        latency.verify_s(batch, tokens, context) + 0.001, rel=1e-5)
    assert cost.draft_s(np.ones(batch, dtype=np.int64), context) == pytest.approx(
        latency.draft_step_s(batch, context) + profile.engine.draft_forward_s, rel=1e-5)


def test_a_prompt_chunk_rides_on_the_decode_rows_weight_read() -> None:
    profile = fused_roofline()
    fused, separate = fused_estimator(profile, uses_draft=False), CostEstimator(
        LatencyModel(profile.latency), uses_draft=False)
    decode_only = fused.price(8, None, 0, 0, 0, 1024.0, [])
    small = fused.price(8, None, 0, 0, 0, 1024.0, [(16, 0)])
    assert small[1] == decode_only[1]  # the decode rows' share is theirs alone
    # 16 prompt tokens on a memory-bound forward add their KV and one row of logits, not a weight read
    assert 0 < small[2] < 0.02 * decode_only[1]
    assert separate.price(8, None, 0, 0, 0, 1024.0, [(16, 0)])[2] > 0.7 * decode_only[1]


def test_a_compute_bound_fused_forward_is_its_flops_at_the_achieved_rate() -> None:
    profile = fused_roofline(compute_efficiency=0.5)
    roof = profile.engine.roofline
    target = roof.target
    cost = fused_estimator(profile, uses_draft=False)
    chunk, cached = 2048, 512
    _, verify_s, prefill_s, _ = cost.price(0, None, 0, 0, 0, 0.0, [(chunk, cached)])
    per_flop = 1.0 / (roof.peak_flops_per_s * 0.5)
    dense = (chunk * target.flops_per_token + target.head_flops_per_logit) * per_flop
    pairs = chunk * (cached + (chunk + 1) / 2)
    attention = max(pairs * target.attention_flops_per_pair * per_flop,
                    (cached + 2 * chunk) * target.kv_bytes_per_token
                    / (roof.memory_bandwidth_bytes_per_s * roof.bandwidth_efficiency))
    assert verify_s == 0.0
    assert prefill_s == pytest.approx(dense + attention + target.forward_overhead_s, rel=1e-9)


def test_a_forecast_counts_the_chunks_the_budget_leaves_beside_the_decode_rows() -> None:
    for cost in (fused_estimator(fused_roofline()), estimator(PLAIN_S)):
        cost.expect_prefill([(300, 0), (400, 64)], budget_tokens=512)
        # 8 rows drafting 2: 24 decode tokens, so the chunks are 300 and 188 of the 400
        expected = sum(cost.price(8, None, 2, 2, 16, 900.0, [(300, 0), (188, 64)]))
        assert cost.uniform_step_s(8, 2, 900.0) == pytest.approx(expected, rel=1e-12)
        cost.fix_prefill([(100, 0)])  # once planned, the chunks are what they are
        assert cost.uniform_step_s(8, 4, 900.0) == pytest.approx(
            sum(cost.price(8, None, 4, 4, 32, 900.0, [(100, 0)])), rel=1e-12)
