"""The cost estimator a policy sees: predicted step times for hypothetical batches.

It is built from the Profile's latency model, in both worlds: in the simulator its predictions
are also the simulated times, in the real engine they are the policy's forecast of measured
ones. The composition rules are DESIGN.md's simulator model: a step drafts for the longest
draft in the batch (requests with shorter drafts drop out of later passes), then verifies
Σ(kᵢ+1) tokens in one target pass. The first draft pass feeds what the draft caches lack
(`first_pass_tokens` per request, the widest row's count; 1 unless the caller tracks the lag:
a policy's forecast assumes 1) and is priced by the profile's first-pass grid where it has one.
"""

from __future__ import annotations

import numpy as np

from specsim.profile.latency import LatencyModel


class CostEstimator:
    def __init__(self, latency: LatencyModel, uses_draft: bool) -> None:
        self.latency = latency
        self.uses_draft = uses_draft

    def draft_s(self, draft_lengths: np.ndarray, context_tokens: float, first_pass_tokens: int = 1) -> float:
        """Draft passes 1..max k; pass s runs the requests with kᵢ ≥ s."""
        if len(draft_lengths) == 0:
            return 0.0
        return self.draft_s_known(draft_lengths, int(draft_lengths.max()), int(draft_lengths.min()),
                                  context_tokens, first_pass_tokens)

    def draft_s_known(self, draft_lengths: np.ndarray, longest: int, smallest: int,
                      context_tokens: float, first_pass_tokens: int = 1) -> float:
        """`draft_s` when the lengths' max and min are already known (the engines' hot loop)."""
        if longest <= 0:
            return 0.0
        batch = len(draft_lengths)
        latency = self.latency
        draft_step_s = latency.draft_step_s
        if not latency.has_first_pass:  # every pass alike (and the sum as it always was)
            if smallest == longest:
                return longest * draft_step_s(batch, context_tokens)
            still_drafting = np.bincount(draft_lengths, minlength=longest + 1)[::-1].cumsum()[::-1]
            return sum(draft_step_s(int(still_drafting[s]), context_tokens) for s in range(1, longest + 1))
        if smallest == longest:
            return (latency.draft_first_pass_s(batch, first_pass_tokens, context_tokens)
                    + (longest - 1) * draft_step_s(batch, context_tokens))
        still_drafting = np.bincount(draft_lengths, minlength=longest + 1)[::-1].cumsum()[::-1]
        first_s = latency.draft_first_pass_s(int(still_drafting[1]), first_pass_tokens, context_tokens)
        later_s = sum(draft_step_s(int(still_drafting[s]), context_tokens) for s in range(2, longest + 1))
        return first_s + later_s

    def verify_s(self, verify_lengths: np.ndarray, context_tokens: float) -> float:
        """One target pass over Σ(kᵢ+1) tokens (plain decoding when every kᵢ = 0)."""
        batch = len(verify_lengths)
        if batch == 0:
            return 0.0
        tokens_per_request = 1.0 + float(verify_lengths.sum()) / batch
        return self.latency.verify_s(batch, tokens_per_request, context_tokens)

    def verify_s_known(self, batch: int, verified_total: int, context_tokens: float) -> float:
        """`verify_s` from the batch size and Σ verify lengths."""
        if batch == 0:
            return 0.0
        return self.latency.verify_s(batch, 1.0 + float(verified_total) / batch, context_tokens)

    def step_s(self, draft_lengths: np.ndarray, verify_lengths: np.ndarray | None,
               context_tokens: float) -> float:
        """Draft + verify + the engine's fixed per-step overhead (prefill not included)."""
        verify = draft_lengths if verify_lengths is None else verify_lengths
        drafting = len(draft_lengths) > 0 and draft_lengths.max() > 0
        overhead_s = self.latency.step_overhead_s if drafting else self.latency.plain_step_overhead_s
        draft_s = self.draft_s(draft_lengths, context_tokens)
        return draft_s + self.verify_s(verify, context_tokens) + overhead_s

    def uniform_step_s(self, batch: int, k: int, context_tokens: float) -> float:
        """A batch of `batch` requests all drafting and verifying k tokens."""
        if batch <= 0:
            return 0.0
        if k == 0:
            return self.latency.verify_s(batch, 1.0, context_tokens) + self.latency.plain_step_overhead_s
        latency = self.latency
        if latency.has_first_pass:
            draft = (latency.draft_first_pass_s(batch, 1, context_tokens)
                     + (k - 1) * latency.draft_step_s(batch, context_tokens))
        else:
            draft = k * latency.draft_step_s(batch, context_tokens)
        return draft + latency.verify_s(batch, 1.0 + k, context_tokens) + latency.step_overhead_s
