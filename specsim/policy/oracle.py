"""`oracle` (simulator only): knows every draft token's fate before verifying it."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy


class Oracle(Policy):
    """An upper bound for length-choosing policies, not a policy: it reads the simulator's
    sampled outcome ahead of time.

    Source: the oracle of the adaptive-speculation literature (e.g. the "optimal k" upper bound
    of SpecServe/AdaSpec and SmartSpec). With aᵢ = the accepted prefix request i would have if
    k_max tokens were drafted (`view.future_accepted`), drafting kᵢ = min(aᵢ, c) tokens wastes
    nothing: all are accepted and the target adds its bonus token. The batch picks the cap c:

        c* = argmax_{c = 0..k_max}  Σᵢ (1 + min(aᵢ, c)) / T(min(a⃗, c))

    T is the profile's step time for the ragged lengths (CostEstimator.step_s), so c* is the
    step's goodput-optimal choice among all per-request lengths of this form (ties: smaller c).
    It is myopic — best per step, not over the run — and ignores SLOs; on the engine's
    scheduling it bounds what any policy that only chooses lengths can emit per second.
    `simulator_only`: the real engine refuses it.
    """

    name = "oracle"
    simulator_only = True

    def __init__(self, k_max: int = 8) -> None:
        if k_max < 1:
            raise ValueError("k_max must be ≥ 1")
        self.k_max = k_max
        self.max_draft_tokens = k_max

    def plan_draft(self, view: BatchView) -> np.ndarray:
        future = view.future_accepted
        if future is None:
            raise RuntimeError("oracle needs view.future_accepted: it runs in the simulator only")
        batch = view.batch_size
        cost, context = view.cost, view.mean_context_tokens
        future = np.minimum(np.asarray(future, dtype=np.int64), self.k_max)
        best_cap = 0
        best = batch / cost.step_s(np.zeros(batch, dtype=np.int64), None, context)
        for cap in range(1, int(future.max(initial=0)) + 1):
            lengths = np.minimum(future, cap)
            goodput = (batch + int(lengths.sum())) / cost.step_s(lengths, None, context)
            if goodput > best:
                best_cap, best = cap, goodput
        return np.minimum(future, best_cap)

    def parameters(self) -> dict[str, object]:
        return {} if self.k_max == 8 else {"k_max": self.k_max}
