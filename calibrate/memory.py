"""The memory section: weights, KV bytes per token, and how many tokens of KV cache fit.

Capacity follows the usual serving-engine rule (vLLM's gpu_memory_utilization = 0.9): 90% of the
device's memory, minus both models' weights, minus the transient memory of the largest verify
forward measured (activations, logits), divided by the KV bytes of one token in both models.
On a CPU the "device memory" is the host's RAM and no transient is measured: a notional figure.
"""

from __future__ import annotations

import torch

from calibrate.hardware import host_memory_bytes
from calibrate.kv import decode_inputs, random_cache
from realrun.models import LoadedModel, with_cache
from specsim.profile.schema import Memory

MEMORY_UTILISATION = 0.9
REPORTED_CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768)


def device_memory_bytes(device: str) -> int | None:
    if device == "cuda":
        return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
    return host_memory_bytes()


@torch.inference_mode()
def transient_bytes(model, batch: int, new_tokens: int, context: int, dtype: torch.dtype, device: str) -> int:
    """Peak memory of one verify forward beyond what was allocated before it (GPU only)."""
    if device != "cuda":
        return 0
    cache = random_cache(model, batch, context, dtype, device)
    ids, mask, positions = decode_inputs(batch, new_tokens, context, model.config.vocab_size, device)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    model(input_ids=ids, attention_mask=mask, position_ids=positions, **with_cache(model, cache),
          use_cache=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del cache
    return max(0, int(peak - before))


def memory_section(target: LoadedModel, draft: LoadedModel, device: str, max_draft_tokens: int,
                   transient: int, max_positions: int) -> Memory:
    total = device_memory_bytes(device)
    target_kv = target.architecture.kv_bytes_per_token(target.dtype)
    draft_kv = draft.architecture.kv_bytes_per_token(draft.dtype)
    weights = target.weight_bytes + draft.weight_bytes
    capacity = None
    by_context: dict[str, int] = {}
    if total is not None:
        capacity = max(0, int((MEMORY_UTILISATION * total - weights - transient) // (target_kv + draft_kv)))
        for context in REPORTED_CONTEXTS:
            if context <= max_positions:
                by_context[str(context)] = capacity // (context + max_draft_tokens + 1)
    return Memory(
        device_memory_bytes=total,
        target_weight_bytes=target.weight_bytes,
        draft_weight_bytes=draft.weight_bytes,
        target_kv_bytes_per_token=target_kv,
        draft_kv_bytes_per_token=draft_kv,
        kv_capacity_tokens=capacity,
        max_batch_by_context=by_context,
    )
