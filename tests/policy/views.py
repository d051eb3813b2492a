"""Hand-made batch views and a scripted speculation backend for the policies' unit tests."""

from __future__ import annotations

from functools import cache

import numpy as np

from specsim.policy.base import MEMORY_SLOTS, BatchView
from specsim.policy.cost import CostEstimator
from specsim.profile.latency import LatencyModel
from specsim.profile.synthetic import iid_acceptance, linear_profile


@cache
def estimator(draft_step_s: float = 0.0005, verify_base_s: float = 0.01, verify_per_token_s: float = 0.0,
              step_overhead_s: float = 0.0) -> CostEstimator:
    """T(B, k) = k·draft_step_s + verify_base_s + verify_per_token_s·B·(k+1) + overhead."""
    profile = linear_profile(draft_step_s=draft_step_s, verify_base_s=verify_base_s,
                             verify_per_token_s=verify_per_token_s, step_overhead_s=step_overhead_s,
                             acceptance=iid_acceptance(0.7))
    return CostEstimator(LatencyModel(profile.latency), uses_draft=True)


def make_view(batch: int, cost: CostEstimator | None = None, *, context: int = 512,
              slo_tpot_s: float | np.ndarray = 1.0, now_s: float = 10.0,
              generated: int | np.ndarray = 10, first_token_s: float | np.ndarray = 9.0,
              last_verified: int | np.ndarray = -1, last_accepted: int | np.ndarray = -1,
              memory: np.ndarray | None = None, max_batch_tokens: int = 1_000_000,
              future_accepted: np.ndarray | None = None) -> BatchView:
    def column(value: float | np.ndarray, dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (batch,)).copy()

    return BatchView(
        now_s=now_s, queue_length=0, prefilling=0,
        request_ids=np.arange(batch, dtype=np.int64),
        context_tokens=column(context, np.int64), generated_tokens=column(generated, np.int64),
        arrival_s=column(0.0, np.float64), first_token_s=column(first_token_s, np.float64),
        slo_ttft_s=column(10.0, np.float64), slo_tpot_s=column(slo_tpot_s, np.float64), slo_scale=1.0,
        drafted_tokens=column(0, np.int64), verified_tokens=column(0, np.int64),
        accepted_tokens=column(0, np.int64), last_verified=column(last_verified, np.int64),
        last_accepted=column(last_accepted, np.int64),
        memory=memory if memory is not None else np.full((batch, MEMORY_SLOTS), np.nan),
        max_batch_tokens=max_batch_tokens, mean_context_tokens=float(context),
        cost=cost or estimator(), future_accepted=future_accepted,
    )


class ScriptedBackend:
    """A SpeculationBackend with given confidences [B, K] and accepted prefixes (if all K were
    verified); records the passes the engine ran."""

    def __init__(self, confidences: np.ndarray, prefix: np.ndarray | None = None) -> None:
        self.confidences = np.asarray(confidences, dtype=np.float64)
        batch = len(self.confidences)
        self.prefix = np.zeros(batch, dtype=np.int64) if prefix is None else np.asarray(prefix)
        self.passes = 0

    def draft(self, lengths: np.ndarray) -> np.ndarray:
        longest = int(lengths.max())
        confidences = self.confidences[:, :longest].copy()
        confidences[np.arange(longest)[None, :] >= lengths[:, None]] = np.nan
        self.passes = longest
        return confidences

    def draft_pass(self, active: np.ndarray, position: int) -> np.ndarray:
        self.passes = position + 1
        return self.confidences[active, position]

    def verify(self, verify_lengths: np.ndarray) -> np.ndarray:
        return np.minimum(self.prefix, verify_lengths)


def run_step(policy, view: BatchView, backend: ScriptedBackend):
    """One step of the engine's speculation protocol, without a scheduler (no caps)."""
    from specsim.engine.speculation import speculate
    from specsim.engine.step import StepPlan

    planned = np.asarray(policy.plan_draft(view), dtype=np.int64)
    planned = np.minimum(planned, policy.max_draft_tokens)
    return speculate(policy, StepPlan(view.now_s, view, planned, [], 0), backend)
