"""The EAGLE-3 pair: vLLM's published per-position acceptance reproduced exactly, the head's
extra weights counted, and the roofline picking the curves for the pair."""

import pytest

from specsim.architectures import load_architecture
from specsim.profile import load_profile
from specsim.profile.published_eagle import VLLM_EAGLE3_LLAMA31_8B, conditional_rates, eagle_acceptance


def test_published_prefix_probabilities_are_reproduced():
    curve = eagle_acceptance().greedy["chat"]
    assert curve.position_acceptance[:3] == pytest.approx(VLLM_EAGLE3_LLAMA31_8B, abs=1e-6)
    # vLLM's acceptance length at k = 3: 1 + Σ P(prefix ≥ i) = 2.606
    assert curve.mean_accepted_length[2] == pytest.approx(1 + sum(VLLM_EAGLE3_LLAMA31_8B), abs=1e-6)
    # beyond the published positions the third's conditional rate holds
    rates = conditional_rates()
    assert rates[3:] == pytest.approx([rates[2]] * (len(rates) - 3))
    assert curve.position_acceptance[3] == pytest.approx(VLLM_EAGLE3_LLAMA31_8B[2] * rates[2], abs=1e-6)


def test_the_eagle_head_counts_its_feature_projection():
    head = load_architecture("llama3.1-8b-eagle3")
    plain = load_architecture("llama3.1-8b-eagle3").__class__(
        head.name, head.description, head.source, head.config)  # the same layer as a plain draft
    hidden, q_width, kv_width = head.hidden, head.heads * head.head_dim, head.kv_heads * head.head_dim
    extra = 3 * hidden * hidden + hidden * (q_width + 2 * kv_width)
    assert head.parameter_count() - plain.parameter_count() == extra


def test_shipped_eagle_profile_has_the_published_curves():
    profile = load_profile("h100-llama3.1-8b-eagle3")
    assert profile.target.name == "llama3.1-8b" and profile.draft.name == "llama3.1-8b-eagle3"
    assert profile.acceptance.greedy["chat"].position_acceptance[:3] == pytest.approx(
        VLLM_EAGLE3_LLAMA31_8B, abs=1e-6)


def test_batch_one_step_is_within_15_percent_of_sglangs_and_show_prints_both():
    from specsim.profile.summary import fused_step_s, summary_text

    profile = load_profile("h100-llama3.1-8b-eagle3")
    step_s = fused_step_s(profile, batch=1, k=0, context_tokens=1024.0)
    assert abs(step_s / 6.32e-3 - 1.0) < 0.15
    text = summary_text(profile)
    assert f"{step_s * 1e3:.2f} ms" in text and "6.32 ms" in text
