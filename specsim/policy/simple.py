"""The two reference policies of every comparison: no speculation, and a fixed length."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy


class NoSpeculation(Policy):
    """`none`: plain autoregressive decoding; the engine runs no draft model at all.

    The honest baseline is a server without a draft: no draft prefill, no draft KV cache."""

    name = "none"
    uses_draft = False


class FixedLength(Policy):
    """`fixed(k)`: every request drafts and verifies k tokens every step (vLLM's
    `num_speculative_tokens`; the fixed-k baselines k ∈ {1, 3, 5} of SpecServe's experiments)."""

    name = "fixed"

    def __init__(self, k: int = 4) -> None:
        if k < 1:
            raise ValueError("k must be ≥ 1 (use the policy 'none' for plain decoding)")
        self.k = k
        self.max_draft_tokens = k

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return np.full(view.batch_size, self.k, dtype=np.int64)

    def parameters(self) -> dict[str, object]:
        return {"k": self.k}
