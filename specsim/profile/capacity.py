"""How much KV cache fits beside the weights: the profile's `memory` section.

Serving engines give the KV cache whatever is left of a fixed share of device memory after the
weights and a working reserve (vLLM: `gpu_memory_utilization`, default 0.9). Target and draft
both keep a cache for every request, so a token costs the sum of their per-token KV bytes.
"""

from __future__ import annotations

from specsim.architectures import Architecture, dtype_bytes
from specsim.profile.schema import Memory

# vLLM's default share of device memory an engine may use (its `gpu_memory_utilization` = 0.9).
MEMORY_UTILISATION = 0.90
# Working memory that is neither weights nor KV cache: CUDA context, cuBLAS/attention workspaces
# and the activations of the largest prefill chunk (vLLM sizes this by profiling a forward of its
# `max_num_batched_tokens`). 2 GiB is a stated allowance for a 7B model, not a measurement.
RUNTIME_RESERVE_BYTES = 2 * 1024**3
# Context lengths at which the largest batch that fits is reported.
CAPACITY_CONTEXTS = (512, 1024, 2048, 4096, 8192)


def memory_section(target: Architecture, draft: Architecture, dtype: str,
                   device_memory_bytes: int | None, tensor_parallel: int = 1) -> Memory:
    """Per GPU: the target's weights and KV split over `tensor_parallel` GPUs (kv bytes per
    token are one GPU's share), the draft whole on each."""
    target_weights = target.parameter_count() * dtype_bytes(dtype)
    draft_weights = draft.parameter_count() * dtype_bytes(dtype)
    target_kv = target.kv_bytes_per_token(dtype, tensor_parallel)
    draft_kv = draft.kv_bytes_per_token(dtype)
    capacity = None
    by_context: dict[str, int] = {}
    if device_memory_bytes is not None:
        usable = MEMORY_UTILISATION * device_memory_bytes
        free = usable - target_weights / tensor_parallel - draft_weights - RUNTIME_RESERVE_BYTES
        capacity = max(0, int(free // (target_kv + draft_kv)))
        by_context = {str(context): capacity // context for context in CAPACITY_CONTEXTS}
    return Memory(
        device_memory_bytes=device_memory_bytes,
        target_weight_bytes=target_weights,
        draft_weight_bytes=draft_weights,
        target_kv_bytes_per_token=target_kv,
        draft_kv_bytes_per_token=draft_kv,
        kv_capacity_tokens=capacity,
        max_batch_by_context=by_context,
    )


def memory_note() -> str:
    return (
        f"memory: KV capacity = ({MEMORY_UTILISATION:g} x device memory (vLLM's default "
        f"gpu_memory_utilization) - target and draft weights - {RUNTIME_RESERVE_BYTES / 1024**3:g} GiB "
        "runtime reserve (CUDA context, workspaces, prefill activations: an allowance)) / (target + draft "
        "KV bytes per token); max_batch_by_context = capacity // context"
    )
