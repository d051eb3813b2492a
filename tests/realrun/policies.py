"""Test-local policies: mixed k per request, pruning in plan_verify, stopping on confidence."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Drafts, Policy


class MixedPolicy(Policy):
    """k = request id mod 6 (0..5, so some rows decode plainly); odd requests verify one draft
    token fewer than they drafted (pruning)."""

    name = "test-mixed"
    max_draft_tokens = 5

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return (view.request_ids % 6 + view.generated_tokens % 2).clip(max=5).astype(np.int64)

    def plan_verify(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        return np.maximum(drafts.lengths - view.request_ids % 2, 0)


class StopEarlyPolicy(MixedPolicy):
    """As MixedPolicy, and stops drafting a request once its last token's confidence < 0.5
    (exercises `continue_drafting` → backend.draft_pass step by step)."""

    name = "test-stop"

    def continue_drafting(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        rows = np.arange(len(drafts.lengths))
        last = drafts.confidences[rows, np.maximum(drafts.lengths - 1, 0)]
        return ~(last < 0.5)
