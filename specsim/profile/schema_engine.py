"""The Profile's `engine` section (contract 2, schema version 2; 3 adds tensor parallelism): how
the serving engine the profile describes composes a step and what it costs beyond the forwards'
own work.

Absent (every version-1 profile): the engine is `separate` with no fixed costs, no prefix cache
and no time outside the steps — what the simulator always did, and how realrun's eager engine
runs a step (draft passes, a verify forward, a separate prefill forward).

`fused` is how vLLM V1 and SGLang run a step: one target forward over every token scheduled in
it — each decoding request's 1 + k tokens and the prefill chunks together — priced by the
roofline over the whole forward (`roofline`), so a prompt chunk rides on the weight read the
decode rows pay anyway.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ForwardCoefficients(Strict):
    """One model's forward under the roofline, per unit of work (`specsim/profile/roofline.py`
    derives them from the architecture): dense = weights + logits, attention = the KV cache."""

    weight_bytes: float = Field(gt=0, description="streamed once per forward")
    flops_per_token: float = Field(gt=0, description="2 per matmul weight, LM head excluded")
    head_flops_per_logit: float = Field(ge=0, description="the LM head, at positions that keep logits")
    logit_bytes: float = Field(ge=0, description="logits written per position that keeps them")
    kv_bytes_per_token: float = Field(gt=0)
    attention_flops_per_pair: float = Field(ge=0, description="QK^T and AV per (query, key) pair")
    forward_overhead_s: float = Field(ge=0, description="launch cost of the forward's kernels")
    allreduce_s_per_token: float = Field(
        default=0.0, ge=0, description="tensor parallelism (schema 3): the all-reduces' transfer time per "
        "token of the forward (their fixed latency is in forward_overhead_s); 0 on one GPU")


class RooflineCoefficients(Strict):
    """max(bytes / (bandwidth·η_mem), FLOPs / (peak·η_flop)) for the dense part and for attention."""

    memory_bandwidth_bytes_per_s: float = Field(gt=0)
    peak_flops_per_s: float = Field(gt=0)
    bandwidth_efficiency: float = Field(gt=0, le=1)
    compute_efficiency: float = Field(gt=0, le=1)
    target: ForwardCoefficients
    draft: ForwardCoefficients
    tensor_parallel: int = Field(
        default=1, ge=1, description="GPUs the target is split over (schema 3); the coefficients are one "
        "GPU's share, the draft runs whole on every GPU")


class BenchmarkResidual(Strict):
    """One measured run against the simulator at the fitted coefficients."""

    run: str
    metric: str
    measured: float
    simulated: float


class EngineFit(Strict):
    """Where `specsim calibrate --from-benchmark` fitted the engine's coefficients, and how close
    this profile's simulation of each run comes (every metric; `metrics` were fitted)."""

    files: list[str]
    parameters: list[str] = Field(description="the coefficients fitted; the rest kept their prior")
    metrics: list[str] = Field(description="the metrics fitted")
    mean_abs_rel_error: float = Field(ge=0, description="over the fitted metrics' residuals")
    residuals: list[BenchmarkResidual]


class Engine(Strict):
    name: str = Field(description="the engine described: vllm, sglang, realrun, ...")
    composition: Literal["separate", "fused"]
    target_forward_s: float = Field(
        default=0.0, ge=0,
        description="fixed cost of every target forward beyond the grid's or roofline's time: "
        "launches, sampling, input preparation")
    draft_forward_s: float = Field(default=0.0, ge=0, description="the same for every draft forward")
    request_overhead_s: float = Field(
        default=0.0, ge=0,
        description="client-visible time per request outside the engine's steps (HTTP, tokenisation, "
        "detokenisation, streaming): a request reaches the scheduler this long after it is sent")
    prefix_caching: bool = Field(
        default=False, description="reuse the KV of a prompt prefix another request computed")
    kv_block_tokens: int = Field(default=16, ge=1, description="a prefix is reused in whole blocks")
    roofline: RooflineCoefficients | None = Field(
        default=None, description="how a fused forward is priced; required when composition is fused")
    fit: EngineFit | None = None
    cuda_graph_sizes: list[int] | None = Field(
        default=None, description="schema 3: token counts the engine captured CUDA graphs for; a "
        "forward of up to the largest runs padded to the next size (a staircase in tokens per step), "
        "a larger one runs eagerly, unpadded. Absent: no staircase")

    @model_validator(mode="after")
    def _fused_needs_a_price(self) -> Engine:
        if self.composition == "fused" and self.roofline is None:
            raise ValueError("composition 'fused' needs the roofline coefficients (engine.roofline)")
        return self

    @model_validator(mode="after")
    def _graph_sizes_increase(self) -> Engine:
        sizes = self.cuda_graph_sizes
        if sizes is None:
            return self
        if self.composition != "fused":
            raise ValueError("cuda_graph_sizes: only a fused engine pads its forwards to captured sizes")
        if not sizes or sizes[0] < 1 or any(b <= a for a, b in pairwise(sizes)):
            raise ValueError(f"cuda_graph_sizes: must be positive and strictly increasing, got {sizes}")
        return self
