"""Tensor parallelism in the roofline: each GPU's share of the work, the all-reduces between them,
the memory per GPU, and the splits vLLM refuses."""

import json

import pytest
from click.testing import CliRunner

from specsim.architectures import load_architecture
from specsim.cli import main
from specsim.errors import SpecsimError
from specsim.profile import load_profile
from specsim.profile.engine import FusedForward
from specsim.profile.forward_cost import (
    ALLREDUCE_LATENCY_S,
    BANDWIDTH_EFFICIENCY,
    COMPUTE_EFFICIENCY,
    ForwardCost,
)
from specsim.profile.hardware import gpu_spec
from specsim.profile.roofline import roofline_profile

H100 = gpu_spec("h100")


def cost(target: str, gpus: int) -> ForwardCost:
    return ForwardCost(load_architecture(target), H100, "bf16", tensor_parallel=gpus)


def test_each_gpu_holds_its_share_of_the_work():
    whole, split = cost("llama2-7b", 1).coefficients(), cost("llama2-7b", 4).coefficients()
    for field in ("weight_bytes", "flops_per_token", "head_flops_per_logit", "logit_bytes",
                  "kv_bytes_per_token", "attention_flops_per_pair"):
        assert getattr(split, field) == pytest.approx(getattr(whole, field) / 4), field
    assert whole.allreduce_s_per_token == 0.0


def test_allreduce_terms_follow_the_ring_formula():
    arch = load_architecture("llama3.3-70b")
    coefficients = cost("llama3.3-70b", 8).coefficients()
    calls = 2 * arch.layers  # after attention and after the MLP
    per_token_bytes = 2 * 7 / 8 * arch.hidden * 2  # a ring moves 2(N-1)/N of each bf16 vector
    assert coefficients.allreduce_s_per_token == pytest.approx(
        calls * per_token_bytes / (H100.interconnect_bytes_per_s * BANDWIDTH_EFFICIENCY))
    launches_only = cost("llama3.3-70b", 1).coefficients().forward_overhead_s
    assert coefficients.forward_overhead_s == pytest.approx(launches_only + calls * ALLREDUCE_LATENCY_S[8])


def test_kv_heads_fewer_than_gpus_are_replicated():
    arch = load_architecture("llama3-8b")  # 8 KV heads
    assert arch.kv_bytes_per_token("bf16", 8) == arch.kv_bytes_per_token("bf16") / 8
    # on 16 GPUs each still holds one whole KV head (a copy), not half of one
    assert arch.kv_bytes_per_token("bf16", 16) == arch.kv_bytes_per_token("bf16", 8)
    arch.check_tensor_parallel(16)  # 32 query heads split, 8 KV heads replicated twice: allowed


def test_batch_one_decode_is_each_gpus_weight_read_plus_the_allreduces():
    forward = FusedForward(cost("llama3.3-70b", 8).coefficients(), H100.memory_bandwidth_bytes_per_s,
                           H100.bf16_flops_per_s, BANDWIDTH_EFFICIENCY, COMPUTE_EFFICIENCY)
    one_gpu = FusedForward(cost("llama3.3-70b", 1).coefficients(), H100.memory_bandwidth_bytes_per_s,
                           H100.bf16_flops_per_s, BANDWIDTH_EFFICIENCY, COMPUTE_EFFICIENCY)
    split_s, whole_s = forward.rows_s(1, 1.0, 1024.0), one_gpu.rows_s(1, 1.0, 1024.0)
    assert whole_s / 8 < split_s < whole_s
    coefficients = cost("llama3.3-70b", 8).coefficients()
    weights_s = coefficients.weight_bytes / (H100.memory_bandwidth_bytes_per_s * BANDWIDTH_EFFICIENCY)
    # memory-bound at batch 1: the weight read, the overheads, one token's all-reduces and its KV
    assert split_s == pytest.approx(weights_s + coefficients.forward_overhead_s
                                    + coefficients.allreduce_s_per_token, rel=0.02)


def test_memory_is_per_gpu():
    alone = roofline_profile("h100", "llama3.3-70b", "llama3.2-1b", date="2026-12-06")
    split = roofline_profile("h100", "llama3.3-70b", "llama3.2-1b", date="2026-12-06", tensor_parallel=8)
    assert alone.memory.kv_capacity_tokens == 0  # 141 GB of weights do not fit one 80 GB GPU
    assert split.memory.kv_capacity_tokens > 100_000
    assert split.engine.roofline.tensor_parallel == 8
    assert split.name == "h100x8-llama3.3-70b-llama3.2-1b" and "8 x" in split.hardware.device_name


@pytest.mark.parametrize("target, gpus, words", [
    ("llama3.3-70b", 0, "at least 1"),
    ("llama2-7b", 3, "32 attention heads"),
    ("qwen2.5-7b", 7, "4 KV heads"),
    ("llama3.3-70b", 16, "8-GPU node"),
])
def test_impossible_splits_are_one_line_errors(target, gpus, words, tmp_path):
    with pytest.raises(SpecsimError, match=words):
        roofline_profile("h100", target, "llama-68m", tensor_parallel=gpus)
    result = CliRunner().invoke(main, ["profile", "roofline", "--gpu", "h100", "--target", target, "--draft",
                                       "llama-68m", "--tensor-parallel", str(gpus),
                                       "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "--tensor-parallel" in result.output
    assert not (tmp_path / "p.json").exists()


def test_a_version_2_profile_loads_as_one_gpu(tmp_path):
    document = roofline_profile("h100", "llama2-7b", "llama-68m", date="2026-12-06").model_dump(mode="json")
    document["schema_version"] = 2
    for model in ("target", "draft"):
        del document["engine"]["roofline"][model]["allreduce_s_per_token"]
    del document["engine"]["roofline"]["tensor_parallel"]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(document))
    profile = load_profile(path)
    assert profile.engine.roofline.tensor_parallel == 1
    assert profile.engine.roofline.target.allreduce_s_per_token == 0.0
