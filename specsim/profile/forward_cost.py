"""The roofline time of one forward of one model on one GPU — or, under tensor parallelism, on
one GPU of its group, the all-reduces between them included. `roofline.py` builds a profile's grids
and engine section from it; `FusedForward` (`engine.py`) is the formula both share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specsim.architectures import Architecture, dtype_bytes
from specsim.errors import SpecsimError
from specsim.profile.engine import FusedForward
from specsim.profile.hardware import GpuSpec
from specsim.profile.schema_engine import ForwardCoefficients

# --- constants (each is an assumption; the profile's notes repeat them) -----------------------
# Share of peak memory bandwidth a whole decode forward sustains — the "model bandwidth
# utilisation" (MBU) of MosaicML/Databricks, "LLM Inference Performance Engineering: Best
# Practices", 2023. Streaming copies reach roughly 90% of an HBM or GDDR6 datasheet figure; a
# forward made of dozens of kernels, some too small to fill the memory system, sustains less.
# 0.8 is an assumption for a well-tuned engine, not a measurement.
BANDWIDTH_EFFICIENCY = 0.80
# Share of dense tensor-core peak a forward sustains when compute-bound. Large bf16 GEMMs run
# close to peak; attention, normalisation, activation and odd shapes pull a whole forward lower.
# 0.6 is an assumption, not a measurement.
COMPUTE_EFFICIENCY = 0.60
# Fixed cost of a forward beyond its bytes and FLOPs. A Llama decoder layer runs ~10 kernels
# (norm, QKV, rotary, attention, output projection, residual+norm, gate/up, activation, down);
# each costs a few microseconds of launch latency and inter-kernel idle even when replayed from a
# CUDA graph (NVIDIA, "Getting Started with CUDA Graphs", 2019: launch overhead of a few µs per
# kernel). 2.5 µs × 10 kernels = 25 µs per layer. Plus 50 µs per forward: embedding, final norm,
# LM head, argmax/sampling and copying the chosen tokens back to the host.
LAYER_OVERHEAD_S = 25e-6
FORWARD_OVERHEAD_S = 50e-6
# Tensor parallelism (Megatron-style, as vLLM and SGLang run it): every GPU holds 1/N of each
# weight matrix and of the query heads, and two all-reduces per layer (after attention's output
# projection and after the MLP) sum the partial activations, B·q·hidden values each. A ring
# all-reduce moves 2(N−1)/N of the message over each GPU's link one way (the datasheet's
# interconnect figure, at BANDWIDTH_EFFICIENCY like memory), plus a fixed latency per call:
# SGLang PR #2904 measured its custom all-reduce on H100 at 3.7 / 4.8 / 5.9 µs for a 512-byte
# message on 2 / 4 / 8 GPUs (vLLM's: 9.5 / 9.1 / 10.1 µs). The same latencies serve every GPU
# model, an assumption; one node of at most 8 GPUs. The draft runs whole on every GPU (vLLM's
# default draft tensor-parallel size of 1), with no communication.
ALLREDUCE_LATENCY_S = {2: 3.7e-6, 4: 4.8e-6, 8: 5.9e-6}
MAX_TENSOR_PARALLEL = 8
ALLREDUCES_PER_LAYER = 2


@dataclass(frozen=True)
class ForwardCost:
    """The roofline time of one forward of one model on one GPU.

    A forward runs two kinds of kernels one after the other, each against its own roof: the dense
    part (every weight matrix, LM head included: weight bytes vs 2 FLOPs per weight per token) and
    attention (KV-cache bytes vs QK^T and AV FLOPs). Taking one max over the whole forward would let
    a compute-bound GEMM hide a memory-bound attention read, which no engine does. The formula is
    `specsim.profile.engine.FusedForward`, shared with the fused step the simulator prices.
    """

    arch: Architecture
    gpu: GpuSpec
    dtype: str
    bandwidth_efficiency: float = BANDWIDTH_EFFICIENCY
    compute_efficiency: float = COMPUTE_EFFICIENCY
    tensor_parallel: int = 1

    def coefficients(self) -> ForwardCoefficients:
        """The per-unit constants of this model's forward on one GPU of its tensor-parallel group
        (the engine section stores them)."""
        arch, gpus = self.arch, self.tensor_parallel
        head = float(arch.vocab * arch.hidden)
        weights = arch.flops_per_token(0.0) / 2.0  # matmul weights, LM head included
        # the LM head is split over the vocabulary, the norms (a few thousand weights) replicated
        return ForwardCoefficients(
            weight_bytes=float(arch.weight_bytes_read_per_forward(self.dtype)) / gpus,
            flops_per_token=2.0 * (weights - head) / gpus,
            head_flops_per_logit=2.0 * head / gpus,
            logit_bytes=float(arch.vocab * dtype_bytes(self.dtype)) / gpus,
            kv_bytes_per_token=float(arch.kv_bytes_per_token(self.dtype, gpus)),
            attention_flops_per_pair=(arch.flops_per_token(1.0) - arch.flops_per_token(0.0)) / gpus,
            forward_overhead_s=self.overhead_s(),
            allreduce_s_per_token=self.allreduce_s_per_token(),
        )

    def allreduces(self) -> int:
        return ALLREDUCES_PER_LAYER * self.arch.layers if self.tensor_parallel > 1 else 0

    def overhead_s(self) -> float:
        """Launches, and the all-reduces' fixed latency under tensor parallelism."""
        latency_s = ALLREDUCE_LATENCY_S.get(self.tensor_parallel, 0.0)
        return FORWARD_OVERHEAD_S + LAYER_OVERHEAD_S * self.arch.layers + self.allreduces() * latency_s

    def allreduce_s_per_token(self) -> float:
        """The all-reduces' transfer time per token of the forward: a ring moves 2(N−1)/N of each
        token's hidden vector over every GPU's link."""
        gpus = self.tensor_parallel
        if gpus == 1:
            return 0.0
        share = 2.0 * (gpus - 1) / gpus
        link = self.gpu.interconnect_bytes_per_s * self.bandwidth_efficiency
        return self.allreduces() * share * self.arch.hidden * dtype_bytes(self.dtype) / link

    def time_s(self, batch: np.ndarray, new_tokens: np.ndarray, cached_tokens: np.ndarray,
               logit_positions: np.ndarray) -> np.ndarray:
        """B requests, each adding q new tokens on c cached ones, keeping logits at L positions."""
        batch, new_tokens, cached_tokens, logit_positions = _floats(batch, new_tokens, cached_tokens,
                                                                    logit_positions)
        forward = FusedForward(self.coefficients(), self.gpu.memory_bandwidth_bytes_per_s,
                               self.gpu.peak_flops_per_s(self.dtype), self.bandwidth_efficiency,
                               self.compute_efficiency)
        tokens = batch * new_tokens
        return np.vectorize(forward.time_s, otypes=[np.float64])(
            tokens, batch * logit_positions, batch * (cached_tokens + 2.0 * new_tokens),
            tokens * (cached_tokens + (new_tokens + 1.0) / 2.0))

    # The three forwards a speculative engine runs.
    def decode_s(self, batch: np.ndarray, tokens_per_request: np.ndarray, context: np.ndarray) -> np.ndarray:
        """A draft step (q = 1) or a verify pass (q = k + 1): logits at every new position."""
        return self.time_s(batch, tokens_per_request, context, tokens_per_request)

    def prefill_s(self, batch: np.ndarray, prompt_tokens: np.ndarray) -> np.ndarray:
        """A prompt into an empty cache; only the last position's logits are needed."""
        zeros = np.zeros_like(np.asarray(prompt_tokens))
        return self.time_s(batch, prompt_tokens, zeros, np.ones_like(np.asarray(batch)))


def check_tensor_parallel(arch: Architecture, gpus: int) -> None:
    """The split must suit the model's heads (vLLM's rule) and fit one node."""
    arch.check_tensor_parallel(gpus)
    if gpus > MAX_TENSOR_PARALLEL:
        raise SpecsimError(f"--tensor-parallel {gpus}: more than one {MAX_TENSOR_PARALLEL}-GPU node is "
                           "not modelled")


def _floats(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)

