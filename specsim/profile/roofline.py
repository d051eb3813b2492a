"""Latency grids from first principles: a roofline profile for a GPU that was never measured.

One forward of B requests, each adding q new tokens on top of c cached ones, runs two kinds of
kernels one after the other, each against its own roof:

    time = Σ_{part ∈ dense, attention} max(bytes / (bandwidth · η_mem), FLOPs / (peak · η_flop))
           + overhead(layers)

(Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4); applied per operation to LLM
inference by Yuan et al. 2024, arXiv 2402.16363). Decoding at small batch is memory-bound (every
weight is streamed once for a handful of tokens); the dense part of a verify pass over B·(k+1)
tokens, or of a prefill, turns compute-bound once its tokens pass the ridge point (≈ 220 on an
H100 with the constants below); attention over a KV cache stays memory-bound in decoding.

dense      bytes = weights streamed once per forward (embedding table excepted: only looked-up
                   rows) + logits written, B·(positions with logits)·vocab·dtype bytes
           FLOPs = 2 per weight per new token (the LM head only where logits are kept: a
                   prefill keeps one position)
attention  bytes = KV read B·(c + q) + KV written B·q, times kv_bytes_per_token
           FLOPs = QK^T and AV: token i of q attends to c + i keys, so the mean context is
                   c + (q+1)/2 (a prefill is q = prompt, c = 0: attention over the growing prompt)
Activation traffic is left out: its arithmetic intensity (thousands of FLOPs per byte for a 7B
layer) keeps it far under the compute term wherever it is large.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np

from specsim.architectures import Architecture, dtype_bytes, load_architecture
from specsim.errors import SpecsimError
from specsim.profile.capacity import memory_note, memory_section
from specsim.profile.fit import fit_latency
from specsim.profile.forward_cost import (
    ALLREDUCE_LATENCY_S,
    BANDWIDTH_EFFICIENCY,
    COMPUTE_EFFICIENCY,
    FORWARD_OVERHEAD_S,
    LAYER_OVERHEAD_S,
    ForwardCost,
    check_tensor_parallel,
)
from specsim.profile.hardware import GpuSpec, gpu_spec
from specsim.profile.schema import (
    SCHEMA_VERSION,
    Acceptance,
    DraftStepGrid,
    Hardware,
    Latency,
    LatencyFit,
    ModelInfo,
    PrefillGrid,
    Profile,
    VerifyGrid,
)
from specsim.profile.schema_engine import Engine, ForwardCoefficients, RooflineCoefficients

# --- constants (each is an assumption; the profile's notes repeat them) -----------------------
# Engine time per step outside any forward: scheduling, preparing inputs, rejection-sampling
# bookkeeping, detokenisation. vLLM measured these CPU parts above half of all time for Llama-3-8B
# on an H100 before v0.6 overlapped them with the GPU (vLLM blog, 2024-09-05, "vLLM v0.6.0: 2.7x
# Throughput Improvement"); 0.5 ms is the assumed residue an engine that overlaps them still pays.
STEP_OVERHEAD_S = 0.5e-3
# The engine a roofline profile describes: vLLM V1 / SGLang-like (ENGINES.md), one fused forward
# per step, prefix caching on, 16-token KV blocks (vLLM V1's defaults).
# Fixed cost per draft forward beyond its roofline: vLLM's EAGLE steps grow by about 0.7-1.0 ms per
# drafted token on an H100 at batch 1 (launches, rejection sampling, input preparation; read from
# published TPOT x acceptance length across k, ENGINES.md). The low end, as an assumption.
DRAFT_FORWARD_S = 0.7e-3
# Client-visible time per request outside the engine's steps (HTTP, tokenisation, detokenisation,
# streaming): vLLM PR #54628 measured the client's TTFT 8.4-12.2 ms above the server's own metric.
REQUEST_OVERHEAD_S = 10e-3
KV_BLOCK_TOKENS = 16
# vLLM V1's default CUDA-graph capture sizes in tokens per forward (`cudagraph_capture_sizes`,
# with max_num_seqs 256: 1, 2, 4, then every 8 up to 248, then every 16 up to 512). A forward of up
# to 512 tokens pads to the next size; a larger one runs eagerly.
VLLM_CUDA_GRAPH_SIZES = [1, 2, 4, *range(8, 256, 8), *range(256, 513, 16)]

# --- grids --------------------------------------------------------------------------------------
BATCH_SIZES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
CONTEXT_TOKENS = (128, 256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)
TOKENS_PER_REQUEST = tuple(range(1, 10))  # k = 0 … 8
PREFILL_BATCH_SIZES = (1, 2, 4, 8, 16, 24, 32)
PROMPT_TOKENS = (16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)

ROOFLINE_CITATIONS = [
    "Williams, Waterman & Patterson 2009, 'Roofline: an insightful visual performance model for "
    "multicore architectures', CACM 52(4)",
    "Yuan et al. 2024, 'LLM Inference Unveiled: Survey and Roofline Model Insights', arXiv 2402.16363",
    "MosaicML/Databricks 2023, 'LLM Inference Performance Engineering: Best Practices' (model bandwidth "
    "utilisation)",
    "NVIDIA 2019, 'Getting Started with CUDA Graphs' (per-kernel launch overhead of a few microseconds)",
    "vLLM blog 2024-09-05, 'vLLM v0.6.0: 2.7x Throughput Improvement and 5x Latency Reduction' (CPU "
    "scheduling/API overhead per step)",
    "vLLM engine arguments: gpu_memory_utilization defaults to 0.9",
    "vLLM PR #54628 (2026): client TTFT 8.4-12.2 ms above the server's own TTFT metric (request overhead)",
]
TENSOR_PARALLEL_CITATIONS = [
    "Shoeybi et al. 2019, 'Megatron-LM: Training Multi-Billion Parameter Language Models Using Model "
    "Parallelism', arXiv 1909.08053 (two all-reduces per layer)",
    "SGLang PR #2904 (2025): custom all-reduce latency on H100, 3.7/4.8/5.9 us at 512 bytes on 2/4/8 GPUs",
]


@dataclass(frozen=True)
class EngineCoefficients:
    """The constants of a roofline profile that are assumptions, not datasheet figures — the
    ones `specsim calibrate --from-benchmark` fits to an engine's own measurements."""

    bandwidth_efficiency: float = BANDWIDTH_EFFICIENCY
    compute_efficiency: float = COMPUTE_EFFICIENCY
    step_overhead_s: float = STEP_OVERHEAD_S
    target_forward_s: float = 0.0  # beyond the roofline's own per-layer launch cost
    draft_forward_s: float = DRAFT_FORWARD_S
    request_overhead_s: float = REQUEST_OVERHEAD_S


def roofline_profile(gpu: str, target: str, draft: str, dtype: str = "bf16",
                     acceptance: Acceptance | None = None, *, name: str | None = None,
                     date: str | None = None, composition: Literal["fused", "separate"] = "fused",
                     coefficients: EngineCoefficients | None = None, tensor_parallel: int = 1,
                     acceptance_note: str | None = None,
                     cuda_graph_sizes: list[int] | None = None) -> Profile:
    """A Profile whose latency grids come from the roofline above and the GPU's datasheet, for a
    vLLM-like engine that runs each step as one fused forward (`composition="separate"`: the
    grids alone, priced as separate draft, verify and prefill forwards with no fixed costs), the
    target split over `tensor_parallel` GPUs, forwards padded to `cuda_graph_sizes` tokens where
    given. `acceptance_note` replaces the notes' sentence on where the acceptance came from."""
    spec = gpu_spec(gpu)
    dtype_bytes(dtype)  # an unknown dtype fails here, with the list of known ones
    constants = coefficients or EngineCoefficients()
    target_arch, draft_arch = load_architecture(target), load_architecture(draft)
    check_tensor_parallel(target_arch, tensor_parallel)
    efficiencies = (constants.bandwidth_efficiency, constants.compute_efficiency)
    target_cost = ForwardCost(target_arch, spec, dtype, *efficiencies, tensor_parallel=tensor_parallel)
    draft_cost = ForwardCost(draft_arch, spec, dtype, *efficiencies)
    latency = Latency(
        source="roofline",
        timer="roofline",
        repeats=0,
        draft_step=_draft_grid(draft_cost),
        verify=_verify_grid(target_cost),
        prefill_target=_prefill_grid(target_cost),
        prefill_draft=_prefill_grid(draft_cost),
        step_overhead_s=_six_digits(constants.step_overhead_s),
    )
    citations = [*ROOFLINE_CITATIONS, f"{spec.label}: {spec.source}"]
    if cuda_graph_sizes is not None:
        citations.append("vLLM CompilationConfig: cudagraph_capture_sizes default [1, 2, 4] + "
                         "range(8, 256, 8) + range(256, min(2 x max_num_seqs, 512) + 1, 16)")
    gpus = f"{spec.label}x{tensor_parallel}" if tensor_parallel > 1 else spec.label
    device_name = spec.device_name
    if tensor_parallel > 1:
        citations += [*TENSOR_PARALLEL_CITATIONS, f"{spec.label} interconnect: {spec.interconnect_source}"]
        device_name = f"{tensor_parallel} x {spec.device_name}, tensor parallel"
    engine = _engine(spec, target_cost, draft_cost, constants) if composition == "fused" else None
    if cuda_graph_sizes is not None:
        if engine is None:
            raise SpecsimError("--cuda-graphs: only a fused engine pads its forwards to captured sizes")
        engine = engine.model_copy(update={"cuda_graph_sizes": list(cuda_graph_sizes)})
    return Profile(
        schema_version=SCHEMA_VERSION,
        name=name or f"{gpus}-{target_arch.name}-{draft_arch.name}",
        source="roofline",
        citations=citations,
        notes=roofline_notes(spec, target_cost, draft_cost, acceptance, constants, engine, acceptance_note),
        hardware=Hardware(label=spec.label, device_name=device_name,
                          date=date or dt.date.today().isoformat()),
        target=_model_info(target_arch, dtype),
        draft=_model_info(draft_arch, dtype),
        latency=latency,
        memory=memory_section(target_arch, draft_arch, dtype, spec.memory_bytes, tensor_parallel),
        acceptance=acceptance,
        engine=engine,
    )


def _engine(spec: GpuSpec, target: ForwardCost, draft: ForwardCost, constants: EngineCoefficients) -> Engine:
    roof = RooflineCoefficients(
        memory_bandwidth_bytes_per_s=spec.memory_bandwidth_bytes_per_s,
        peak_flops_per_s=spec.peak_flops_per_s(target.dtype),
        bandwidth_efficiency=_six_digits(constants.bandwidth_efficiency),
        compute_efficiency=_six_digits(constants.compute_efficiency),
        target=_rounded(target.coefficients()),
        draft=_rounded(draft.coefficients()),
        tensor_parallel=target.tensor_parallel,
    )
    return Engine(
        name="vllm-like", composition="fused",
        target_forward_s=_six_digits(constants.target_forward_s),
        draft_forward_s=_six_digits(constants.draft_forward_s),
        request_overhead_s=_six_digits(constants.request_overhead_s),
        prefix_caching=True, kv_block_tokens=KV_BLOCK_TOKENS, roofline=roof,
    )


def _rounded(coefficients: ForwardCoefficients) -> ForwardCoefficients:
    values = coefficients.model_dump()
    return ForwardCoefficients(**{key: _six_digits(value) for key, value in values.items()})


def _six_digits(value: float) -> float:
    return float(f"{value:.6g}")


def roofline_notes(spec: GpuSpec, target: ForwardCost, draft: ForwardCost, acceptance: Acceptance | None,
                   constants: EngineCoefficients, engine: Engine | None,
                   acceptance_note: str | None = None) -> str:
    bandwidth_efficiency, compute_efficiency = constants.bandwidth_efficiency, constants.compute_efficiency
    ridge = spec.peak_flops_per_s(target.dtype) * compute_efficiency / (
        spec.memory_bandwidth_bytes_per_s * bandwidth_efficiency)
    parts = [
        "Latency is a roofline estimate, not a measurement: for the dense part and for attention in "
        f"turn, max(bytes / (bandwidth x {bandwidth_efficiency:.4g}), FLOPs / (dense peak x "
        f"{compute_efficiency:.4g})), summed, + {FORWARD_OVERHEAD_S * 1e6:g} us per forward + "
        f"{LAYER_OVERHEAD_S * 1e6:g} us per layer (target {target.overhead_s() * 1e6:g} us, draft "
        f"{draft.overhead_s() * 1e6:g} us).",
        "Dense: weight bytes once per forward + logits written, 2 FLOPs per weight per token. Attention: "
        "KV read B(c+q) + written Bq (x kv bytes/token), QK^T and AV FLOPs at mean context c + (q+1)/2. "
        "Prefill = q prompt tokens on an empty cache with one position of logits.",
        f"Datasheet peaks: {spec.memory_bandwidth_bytes_per_s / 1e12:g} TB/s, "
        f"{spec.peak_flops_per_s(target.dtype) / 1e12:g} TFLOP/s ({target.dtype}); ridge point "
        f"{ridge:.0f} FLOPs/byte after efficiencies.",
        f"step_overhead_s = {constants.step_overhead_s * 1e3:.4g} ms: per-step CPU work (scheduling, input "
        "preparation, rejection-sampling bookkeeping) in an engine that overlaps most of it with the GPU.",
        "Grids beyond a model's max_position_embeddings (e.g. the 68M draft past 2048) are roofline "
        "extrapolations of the same shape.",
        memory_note() + ".",
        "No weights were loaded: models.weights says 'random' (the schema knows only real|random) because "
        "nothing here was measured from real weights; latency does not depend on weight values.",
    ]
    if engine is not None:
        parts.append(
            "Engine: vLLM V1-like, one fused target forward over every token of a step (decode rows and "
            f"prefill chunks, priced by the roofline above over the whole forward); "
            f"{engine.target_forward_s * 1e3:.4g} ms per target and "
            f"{engine.draft_forward_s * 1e3:.4g} ms per draft forward beyond their roofline, "
            f"{engine.request_overhead_s * 1e3:.4g} ms per request outside the steps; prefix caching in "
            f"{engine.kv_block_tokens}-token blocks.")
    if target.tensor_parallel > 1:
        gpus = target.tensor_parallel
        parts.append(
            f"Tensor parallel: the target split over {gpus} GPUs (weights, query heads, LM head; KV heads "
            f"{'split' if target.arch.kv_heads >= gpus else 'replicated'}), the draft whole on each GPU; "
            f"{target.allreduces()} all-reduces per target forward, each "
            f"{ALLREDUCE_LATENCY_S[gpus] * 1e6:g} us + 2({gpus}-1)/{gpus} of tokens x hidden x dtype bytes "
            f"over {spec.interconnect_bytes_per_s / 1e9:g} GB/s one way x {bandwidth_efficiency:.4g}. "
            "SGLang's H100 measurement for a 1M message on 8 GPUs (34 us) is 2-3x this model's (the PR "
            "leaves bytes or elements unsaid), so large-batch tensor-parallel steps are priced "
            "optimistically. Memory is per GPU.")
    if engine is not None and engine.cuda_graph_sizes:
        sizes = engine.cuda_graph_sizes
        parts.append(f"CUDA graphs captured at {len(sizes)} sizes from {sizes[0]} to {sizes[-1]} tokens per "
                     "forward: a forward pads up to the next (its padding rows cost dense work and logits, "
                     "no attention); a larger one runs unpadded at the same launch cost, an optimistic "
                     "simplification (eager launches cost more).")
    if acceptance_note is not None:
        parts.append(acceptance_note)
    elif acceptance is None:
        parts.append("No acceptance: no published curves for this pair and none supplied.")
    elif acceptance.source == "published":
        parts.append("Acceptance is from published measurements plus a stated model; "
                     "see acceptance.citations.")
    else:
        parts.append("Acceptance was copied from a measured profile; see acceptance.citations.")
    return " ".join(parts)


def _draft_grid(cost: ForwardCost) -> DraftStepGrid:
    batch, context = np.meshgrid(BATCH_SIZES, CONTEXT_TOKENS, indexing="ij")
    ones = np.ones_like(batch)
    time_s = _round(cost.decode_s(batch, ones, context))
    return DraftStepGrid(
        batch_sizes=list(BATCH_SIZES),
        context_tokens=list(CONTEXT_TOKENS),
        time_s=time_s.tolist(),
        fit=_fit(batch, ones, context, time_s),
    )


def _verify_grid(cost: ForwardCost) -> VerifyGrid:
    batch, tokens, context = np.meshgrid(BATCH_SIZES, TOKENS_PER_REQUEST, CONTEXT_TOKENS, indexing="ij")
    time_s = _round(cost.decode_s(batch, tokens, context))
    return VerifyGrid(
        batch_sizes=list(BATCH_SIZES),
        tokens_per_request=list(TOKENS_PER_REQUEST),
        context_tokens=list(CONTEXT_TOKENS),
        time_s=time_s.tolist(),
        fit=_fit(batch, tokens, context, time_s),
    )


def _prefill_grid(cost: ForwardCost) -> PrefillGrid:
    batch, prompt = np.meshgrid(PREFILL_BATCH_SIZES, PROMPT_TOKENS, indexing="ij")
    time_s = _round(cost.prefill_s(batch, prompt))
    return PrefillGrid(
        batch_sizes=list(PREFILL_BATCH_SIZES),
        prompt_tokens=list(PROMPT_TOKENS),
        time_s=time_s.tolist(),
        # the fit's query convention for prefill: (B, prompt, context = prompt)
        fit=_fit(batch, prompt, prompt, time_s),
    )


def _fit(batch: np.ndarray, tokens: np.ndarray, context: np.ndarray, time_s: np.ndarray) -> LatencyFit:
    fit = fit_latency(batch, tokens, context, time_s)
    # Rounded so that regenerating a profile reproduces the file byte for byte across machines.
    return fit.model_copy(update={
        "coefficients": [float(f"{c:.6g}") for c in fit.coefficients],
        "holdout_rel_error_median": float(f"{fit.holdout_rel_error_median:.4g}"),
        "holdout_rel_error_max": float(f"{fit.holdout_rel_error_max:.4g}"),
    })


def _model_info(arch: Architecture, dtype: str) -> ModelInfo:
    return ModelInfo(name=arch.name, architecture=dict(arch.config), parameters=arch.parameter_count(),
                     dtype=dtype, weights="random")


def _round(values: np.ndarray) -> np.ndarray:
    """Six significant digits: far below the model's own error, and stable across platforms."""
    flat = [float(f"{v:.6g}") for v in np.asarray(values, dtype=np.float64).ravel()]
    return np.asarray(flat).reshape(np.shape(values))
