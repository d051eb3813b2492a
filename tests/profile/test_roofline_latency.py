"""The roofline latency model: physically sensible grids, and a fit the simulator can trust."""

import numpy as np
import pytest

from specsim.architectures import load_architecture
from specsim.errors import SpecsimError
from specsim.profile.forward_cost import BANDWIDTH_EFFICIENCY, ForwardCost
from specsim.profile.hardware import GPUS, gpu_spec
from specsim.profile.roofline import roofline_profile

PAIR = ("llama2-7b", "llama-68m")


@pytest.fixture(scope="module")
def profiles():
    return {gpu: roofline_profile(gpu, *PAIR, date="2026-11-23") for gpu in GPUS}


def test_every_gpu_row_names_its_source_and_has_positive_figures():
    for label, spec in GPUS.items():
        assert spec.label == label
        assert "datasheet" in spec.source
        assert spec.memory_bytes > 0 and spec.memory_bandwidth_bytes_per_s > 0
        assert spec.bf16_flops_per_s > spec.fp32_flops_per_s > 0


def test_unknown_gpu_is_a_one_line_error():
    with pytest.raises(SpecsimError, match="unknown gpu 'v100'"):
        gpu_spec("v100")


def test_grids_never_get_cheaper_with_more_work(profiles):
    for gpu, profile in profiles.items():
        latency = profile.latency
        draft = np.asarray(latency.draft_step.time_s)  # [batch][context]
        verify = np.asarray(latency.verify.time_s)  # [batch][tokens][context]
        for axis in range(2):
            assert np.all(np.diff(draft, axis=axis) >= 0), (gpu, "draft_step", axis)
        for axis in range(3):
            assert np.all(np.diff(verify, axis=axis) >= 0), (gpu, "verify", axis)
        for grid in (latency.prefill_target, latency.prefill_draft):
            prefill = np.asarray(grid.time_s)  # [batch][prompt]
            assert np.all(np.diff(prefill, axis=0) >= 0) and np.all(np.diff(prefill, axis=1) >= 0), gpu
        # tokens per forward is what costs: B requests of k+1 tokens never beat B of one token
        assert np.all(verify[:, -1, :] > verify[:, 0, :])


def test_batch_one_decode_is_bandwidth_bound():
    target = load_architecture("llama2-7b")
    for gpu in GPUS:
        cost = ForwardCost(target, gpu_spec(gpu), "bf16")
        weight_s = target.weight_bytes_read_per_forward("bf16") / (
            gpu_spec(gpu).memory_bandwidth_bytes_per_s * BANDWIDTH_EFFICIENCY)
        time_s = float(cost.decode_s(np.array([1]), np.array([1]), np.array([128]))[0])
        # streaming the weights is everything but the fixed overhead (KV and logits add < 1%)
        assert time_s - cost.overhead_s() == pytest.approx(weight_s, rel=0.01), gpu
        coefficients = cost.coefficients()
        flops = coefficients.flops_per_token + coefficients.head_flops_per_logit
        flops_s = flops / gpu_spec(gpu).bf16_flops_per_s
        assert flops_s < 0.05 * weight_s, gpu


def test_large_verify_passes_turn_compute_bound():
    target = load_architecture("llama2-7b")
    cost = ForwardCost(target, gpu_spec("h100"), "bf16")
    one, many = cost.decode_s(np.array([256]), np.array([1]), np.array([128])), cost.decode_s(
        np.array([256]), np.array([9]), np.array([128]))
    # 2304 tokens per forward are far past the ridge point: nine times the tokens, several times the time
    assert many[0] > 3 * one[0]


def test_fit_held_out_error_is_bounded(profiles):
    # The fit is linear in (B, B·q, B·c, B·q·c); the roofline bends at the ridge point, so the
    # worst held-out point (at the bend) is off by up to ~40% while the typical one is within 8%.
    # The simulator reads the grid wherever it has it; the fit only extrapolates beyond.
    for gpu, profile in profiles.items():
        latency = profile.latency
        for name in ("draft_step", "verify", "prefill_target", "prefill_draft"):
            fit = getattr(latency, name).fit
            assert fit.holdout_rel_error_median < 0.08, (gpu, name)
            assert fit.holdout_rel_error_max < 0.40, (gpu, name)
        assert latency.draft_step.fit.holdout_rel_error_median < 0.01, gpu


def test_memory_section_follows_device_memory(profiles):
    h100, l40s, h200 = profiles["h100"].memory, profiles["l40s"].memory, profiles["h200"].memory
    assert h200.kv_capacity_tokens > h100.kv_capacity_tokens > l40s.kv_capacity_tokens > 0
    assert h100.target_weight_bytes == load_architecture("llama2-7b").parameter_count() * 2
    assert h100.max_batch_by_context["1024"] == h100.kv_capacity_tokens // 1024
    assert h100.target_kv_bytes_per_token == 2 * 32 * 4096 * 2


def test_profile_fields_say_roofline(profiles):
    profile = profiles["h100"]
    assert profile.source == "roofline" and profile.latency.source == "roofline"
    assert profile.latency.timer == "roofline" and profile.latency.repeats == 0
    assert profile.latency.step_overhead_s > 0
    verify = profile.latency.verify
    assert verify.tokens_per_request == list(range(1, 10))
    assert (verify.batch_sizes[0], verify.batch_sizes[-1]) == (1, 256)
    assert (verify.context_tokens[0], verify.context_tokens[-1]) == (128, 8192)
    assert profile.latency.prefill_target.batch_sizes[-1] == 32
    assert profile.latency.prefill_target.prompt_tokens[0] == 16
    assert "no weights were loaded" in profile.notes.lower()
    assert profile.hardware.date == "2026-11-23"
