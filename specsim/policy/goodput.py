"""`goodput`: SmartSpec's rule — the k that maximises expected tokens per second."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy
from specsim.policy.estimates import expected_tokens, observed_trials
from specsim.policy.params import changed_parameters

# view.memory columns: exponential moving averages of accepted tokens and of Bernoulli trials;
# their ratio is the request's acceptance estimate α̂ᵢ.
_ACCEPTED, _TRIALS = 0, 1


class Goodput(Policy):
    """Choose one speculation length for the batch that maximises predicted goodput.

    Source: SmartSpec (Liu et al., arXiv 2406.14066) and its public vLLM implementation.
    Rule, for a batch of B requests with acceptance estimates α̂ᵢ and the profile's step time T:

        Goodput(k) = Σᵢ E(k; α̂ᵢ) / T(B, k),   E(k; α) = (1 − α^(k+1)) / (1 − α)
        T(B, k)    = T_draft(k) + T_verify(B·(k+1) tokens) + T_overhead   (CostEstimator)
        k* = first local maximum of Goodput over k = 0, 1, …, k_max, with Goodput(0) × margin

    (Goodput(0) is multiplied by `margin` = 1.1: speculation must be more than 10% better.)
    The enumeration stops at the first drop, which is the maximum since Goodput is quasi-concave
    for T linear in k.

    Acceptance estimate — choices at POLICIES.md's **choose** points and departures:
    - per request (in `view.memory`), not per batch: the batch's expected tokens are the sum
      over its requests, so a batch of easy and hard requests is valued for what it holds;
    - the source's EMA α ← 0.85·α + 0.15·α_obs, starting at α = 0.7, is applied to the two parts
      of the estimate separately — accepted tokens and Bernoulli trials (accepted prefix + the
      rejected token, if any) — and α̂ = EMA(accepted) / EMA(trials). The per-step ratio
      accepted/verified the source averages is biased low for long drafts (a truncated run) and
      is undefined for steps that verified nothing; the ratio of averages is neither. The
      prior counts as one trial at 0.7;
    - the estimate is updated from `view.last_verified`/`view.last_accepted` at the next
      `plan_draft`, because `observe` has no access to per-request memory;
    - k is recomputed every `every` steps (the source: 20, to save its regression's cost) —
      default every step, since here the evaluation costs microseconds and a stale k under a
      changing batch is the larger error. With every > 1 the last k is reused in between.
    """

    name = "goodput"

    def __init__(self, k_max: int = 8, alpha0: float = 0.7, ema: float = 0.15, margin: float = 1.1,
                 every: int = 1) -> None:
        if k_max < 1:
            raise ValueError("k_max must be ≥ 1")
        if not 0.0 < alpha0 < 1.0:
            raise ValueError("alpha0 must be in (0, 1)")
        if not 0.0 < ema <= 1.0:
            raise ValueError("ema must be in (0, 1]")
        if margin <= 0.0:
            raise ValueError("margin must be > 0")
        if every < 1:
            raise ValueError("every must be ≥ 1")
        self.k_max = k_max
        self.alpha0 = alpha0
        self.ema = ema
        self.margin = margin
        self.every = every
        self.max_draft_tokens = k_max
        self._steps = 0
        self._k = 0

    def acceptance(self, view: BatchView) -> np.ndarray:
        """Update each request's estimate from its previous step; return α̂ᵢ."""
        memory = view.memory
        fresh = np.isnan(memory[:, _TRIALS])
        if fresh.any():
            memory[fresh, _ACCEPTED] = self.alpha0
            memory[fresh, _TRIALS] = 1.0
        verified = view.last_verified
        seen = verified > 0
        if seen.any():
            accepted = view.last_accepted[seen]
            trials = observed_trials(verified[seen], accepted)
            keep = 1.0 - self.ema
            memory[seen, _ACCEPTED] = keep * memory[seen, _ACCEPTED] + self.ema * accepted
            memory[seen, _TRIALS] = keep * memory[seen, _TRIALS] + self.ema * trials
        return memory[:, _ACCEPTED] / memory[:, _TRIALS]

    def choose_k(self, view: BatchView, alpha: np.ndarray) -> int:
        batch = view.batch_size
        cost = view.cost
        context = view.mean_context_tokens
        best_k = 0
        best = self.margin * batch / cost.uniform_step_s(batch, 0, context)
        for k in range(1, self.k_max + 1):
            goodput = float(expected_tokens(alpha, k).sum()) / cost.uniform_step_s(batch, k, context)
            if goodput <= best:
                break
            best_k, best = k, goodput
        return best_k

    def plan_draft(self, view: BatchView) -> np.ndarray:
        alpha = self.acceptance(view)  # every step, so no observation is missed
        if self._steps % self.every == 0:
            self._k = self.choose_k(view, alpha)
        self._steps += 1
        return np.full(view.batch_size, self._k, dtype=np.int64)

    def parameters(self) -> dict[str, object]:
        return changed_parameters(self, {"k_max": self.k_max, "alpha0": self.alpha0, "ema": self.ema,
                                         "margin": self.margin, "every": self.every})
