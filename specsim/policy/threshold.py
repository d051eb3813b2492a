"""`threshold(theta)`: draft while the draft model is confident."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Drafts, Policy
from specsim.policy.params import changed_parameters


class ConfidenceThreshold(Policy):
    """Keep drafting while the batch's mean draft confidence of the latest pass stays ≥ θ.

    Source: the confidence-threshold baseline of SpecServe/AdaSpec (arXiv 2503.05096, θ = 0.6,
    k_max = 8) and transformers' dynamic speculation (`assistant_confidence_threshold`, 0.4).
    Rule, after draft pass s (1-based) over the requests R_s still drafting:

        c̄_s = mean_{i ∈ R_s} pᵢ,ₛ ;   draft pass s+1  ⇔  c̄_s ≥ θ  and  s < k_max

    The decision is batch-wide (every request stops together), as in the baseline. All drafted
    tokens are verified (the default `plan_verify`): the token that brought the mean below θ is
    already paid for. Departure: transformers decides per sequence at batch 1; here the batch
    mean is the quantity, as in the SpecServe baseline.
    """

    name = "threshold"

    def __init__(self, theta: float = 0.6, k_max: int = 8) -> None:
        if not 0.0 <= theta <= 1.0:
            raise ValueError("theta must be in [0, 1]")
        if k_max < 1:
            raise ValueError("k_max must be ≥ 1")
        self.theta = theta
        self.k_max = k_max
        self.max_draft_tokens = k_max

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return np.full(view.batch_size, self.k_max, dtype=np.int64)

    def continue_drafting(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        lengths = drafts.lengths
        passes = int(lengths.max())
        latest = lengths == passes  # drafted in the latest pass
        mean = float(drafts.confidences[latest, passes - 1].mean())
        return np.full(view.batch_size, mean >= self.theta)

    def parameters(self) -> dict[str, object]:
        return changed_parameters(self, {"theta": self.theta, "k_max": self.k_max})
