"""A prefill step's forwards as the real engine runs them: one batched forward of the target over
every scheduled chunk (each request's chunk written into its own KV slot), the first token chosen
for each request whose prompt it completes, then the same chunks through the draft.

The engine (`engine.RealReplica`) and the calibration's prefill grid (`calibrate.latency`) both
call these, so the grid times what the engine books as prefill time: the forwards and the host work
around them — padding the chunks, building each cache's positions and mask, picking the logits at
each chunk's last token, choosing the first tokens — and the two cannot drift apart. On the
2-core CPU the target's call took 0.13-0.42 ms more than its forward with the cache inputs (the
tiny pair, batch 1-4, 16-64 tokens: 1-2%; 2026-12-07).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from realrun.acceptance import next_token
from realrun.backend import right_padded
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import with_cache


@dataclass
class PrefillChunks:
    """One step's chunks, padded: what `target` built and `draft` feeds again."""

    rows: torch.Tensor  # KV slots, one per chunk
    inputs: torch.Tensor  # [chunks, longest chunk], right-padded
    counts: torch.Tensor  # real tokens per chunk


def prefill_target(target, kv: SlotKV, slots: list[int], feeds: list[list[int]], fresh: list[bool],
                   completes: list[bool], sampling: bool, generator: torch.Generator | None,
                   clock: Clock) -> tuple[PrefillChunks, list[int]]:
    """Feed each chunk `feeds[i]` into slot `slots[i]` of the target's cache (emptied first where
    `fresh[i]`: a new prefill, or the recompute after a preemption); return the padded chunks and
    the target's first token for each chunk with `completes[i]`, in order."""
    for slot, new in zip(slots, fresh, strict=True):
        if new:
            kv.lengths[slot] = 0
    inputs, counts = right_padded(feeds)
    inputs = inputs.to(kv.device)
    rows = torch.tensor(slots)
    last = counts - 1  # only the logits at each chunk's last token are needed
    keep, where = torch.unique(last, return_inverse=True)
    cache = kv.batch(rows, len(slots), counts)
    logits = clock.forward(target, input_ids=inputs, **with_cache(target, cache), attention_mask=cache.mask,
                           position_ids=cache.position_ids, use_cache=True,
                           logits_to_keep=keep.to(kv.device)).logits
    cache.commit(counts)
    chunks = PrefillChunks(rows, inputs, counts)
    done = [i for i, complete in enumerate(completes) if complete]
    if not done:
        return chunks, []
    index = torch.tensor(done)
    at = logits[index.to(logits.device), where[index].to(logits.device)]
    return chunks, [int(token) for token in next_token(at, sampling, generator).tolist()]


def prefill_draft(draft, kv: SlotKV, chunks: PrefillChunks, fresh: list[bool], clock: Clock) -> None:
    """The same chunks into the draft's cache (only the last position's logits: none are used)."""
    for slot, new in zip(chunks.rows.tolist(), fresh, strict=True):
        if new:
            kv.lengths[slot] = 0
    cache = kv.batch(chunks.rows, len(chunks.counts), chunks.counts)
    clock.forward(draft, input_ids=chunks.inputs, **with_cache(draft, cache), attention_mask=cache.mask,
                  position_ids=cache.position_ids, use_cache=True, logits_to_keep=1)
    cache.commit(chunks.counts)
