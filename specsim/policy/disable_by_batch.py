"""`disable_by_batch(k, max_batch)`: vLLM's `speculative_disable_by_batch_size`."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy

_DISABLED = 0  # memory column: 1.0 once a request is disabled for good (sticky mode)


class DisableByBatch(Policy):
    """Fixed k while the batch is small, plain decoding once it is large.

    Source: vLLM, `speculative_disable_by_batch_size` (v0 spec-decode worker: speculation is
    skipped when the running queue size ≥ that threshold). Rule, with B running requests:

        kᵢ = k   if B ≤ max_batch
        kᵢ = 0   if B > max_batch          (vLLM's threshold n = max_batch + 1)

    The parameter is the largest batch that still speculates, so `max_batch=32` means "speculate
    up to 32 running requests"; vLLM's `disable_by_batch_size=n` is `max_batch=n-1`.

    Choice (POLICIES.md **choose**): per-step by default — the batch speculates again as soon as
    it shrinks back to max_batch. In vLLM a request decoded without its draft has a stale draft
    KV cache and so stays disabled; `sticky=true` reproduces that: a request that was running in
    a step with B > max_batch never speculates again (kept in `view.memory`). Per-step is the
    default because neither engine here charges for re-syncing a draft cache, so stickiness only
    throws away speculation the model says is free.
    """

    name = "disable_by_batch"

    def __init__(self, k: int = 4, max_batch: int = 32, sticky: bool = False) -> None:
        if k < 1:
            raise ValueError("k must be ≥ 1")
        if max_batch < 0:
            raise ValueError("max_batch must be ≥ 0")
        self.k = k
        self.max_batch = max_batch
        self.sticky = sticky
        self.max_draft_tokens = k

    def plan_draft(self, view: BatchView) -> np.ndarray:
        batch = view.batch_size
        if batch > self.max_batch:
            if self.sticky:
                view.memory[:, _DISABLED] = 1.0
            return np.zeros(batch, dtype=np.int64)
        lengths = np.full(batch, self.k, dtype=np.int64)
        if self.sticky:
            lengths[view.memory[:, _DISABLED] == 1.0] = 0
        return lengths

    def parameters(self) -> dict[str, object]:
        return {"k": self.k, "max_batch": self.max_batch, "sticky": self.sticky}
