"""`goodput`: SmartSpec's rule — the k that maximises expected tokens per second."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy, StepOutcome
from specsim.policy.estimates import check_search, expected_tokens, observed_trials, searches_globally
from specsim.policy.params import changed_parameters

# view.memory columns: exponential moving averages of accepted tokens and of Bernoulli trials;
# their ratio is the request's acceptance estimate α̂ᵢ.
_ACCEPTED, _TRIALS = 0, 1


class Goodput(Policy):
    """Choose one speculation length for the batch that maximises predicted goodput.

    Source: SmartSpec (Liu et al., arXiv 2406.14066) and its public vLLM implementation
    (`vllm/spec_decode/dsd.py`). Rule, for a batch of B requests and the profile's step time T
    (the step the engine will run: `CostEstimator.uniform_step_s`):

        Goodput(k) = Σᵢ E(k; α̂ᵢ) / T(B, k),   E(k; α) = (1 − α^(k+1)) / (1 − α)
        k* = first local maximum of Goodput over k = 0, 1, …, k_max, with Goodput(0) × margin

    (Goodput(0) is multiplied by `margin` = 1.1: speculation must be more than 10% better.)
    The enumeration stops at the first drop, which is the maximum since Goodput is quasi-concave
    for T linear in k. Where the profile prices a staircase (an engine padding its forwards to
    captured CUDA-graph sizes) T jumps and Goodput is not unimodal: `search=auto` (the default)
    then takes the global argmax over all k, as production adaptive verification does (vLLM PR
    #47808, TensorRT-LLM PR #17056); `search=first_drop` / `search=global` force either.

    Acceptance estimate, as published (`alpha=batch`, the default): one α for the batch,
    α ← 0.85·α + 0.15·(accepted / drafted) with both counts cumulative since the start, from
    α₀ = 0.7, updated when k is recomputed — every `every` = 20 steps, k = 0 until the first
    recomputation (the source reuses k between recomputations to save its regression's cost).

    Option `alpha=per_request` (the project's variant; with `every=1` as it ran before the
    published rule was the default): one estimate per request, in `view.memory`, the same EMA
    applied to accepted tokens and to Bernoulli trials (accepted prefix + the rejected token, if
    any) separately, α̂ᵢ = EMA(accepted) / EMA(trials) — the per-step ratio accepted/verified is
    biased low for long drafts and undefined for steps that verified nothing; the prior counts as
    one trial at α₀; updated from `view.last_verified`/`view.last_accepted` at the next
    `plan_draft`. A batch of easy and hard requests is then valued for what it holds.
    """

    name = "goodput"

    def __init__(self, k_max: int = 8, alpha0: float = 0.7, ema: float = 0.15, margin: float = 1.1,
                 every: int = 20, alpha: str = "batch", search: str = "auto") -> None:
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
        check_search(search)
        if alpha not in ("batch", "per_request"):
            raise ValueError(f"alpha must be 'batch' or 'per_request', got {alpha!r}")
        self.k_max = k_max
        self.alpha0 = alpha0
        self.ema = ema
        self.margin = margin
        self.every = every
        self.alpha = alpha
        self.search = search
        self.max_draft_tokens = k_max
        self._steps = 0
        self._k = 0
        self._batch_alpha = alpha0  # alpha=batch: the EMA
        self._accepted = 0  # alpha=batch: cumulative counts since the start
        self._drafted = 0

    def acceptance(self, view: BatchView) -> np.ndarray:
        """alpha=per_request: update each request's estimate from its previous step; α̂ᵢ."""
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

    def batch_acceptance(self) -> float:
        """alpha=batch: fold the cumulative ratio into the EMA (at a recomputation); α̂."""
        if self._drafted > 0:
            observed = self._accepted / self._drafted
            self._batch_alpha = (1.0 - self.ema) * self._batch_alpha + self.ema * observed
        return self._batch_alpha

    def choose_k(self, view: BatchView, alpha: np.ndarray) -> int:
        batch = view.batch_size
        cost = view.cost
        context = view.mean_context_tokens
        best_k = 0
        best = self.margin * batch / cost.uniform_step_s(batch, 0, context)
        whole_range = searches_globally(self.search, cost)
        for k in range(1, self.k_max + 1):
            goodput = float(expected_tokens(alpha, k).sum()) / cost.uniform_step_s(batch, k, context)
            if goodput > best:
                best_k, best = k, goodput
            elif not whole_range:
                break
        return best_k

    def plan_draft(self, view: BatchView) -> np.ndarray:
        if self.alpha == "per_request":
            alpha = self.acceptance(view)  # every step, so no observation is missed
            if self._steps % self.every == 0:
                self._k = self.choose_k(view, alpha)
        elif self._steps > 0 and self._steps % self.every == 0:
            self._k = self.choose_k(view, np.full(view.batch_size, self.batch_acceptance()))
        self._steps += 1
        return np.full(view.batch_size, self._k, dtype=np.int64)

    def observe(self, outcome: StepOutcome) -> None:
        if self.alpha == "batch":
            self._accepted += int(outcome.accepted.sum())
            self._drafted += int(outcome.drafted.sum())

    def parameters(self) -> dict[str, object]:
        return changed_parameters(self, {"k_max": self.k_max, "alpha0": self.alpha0, "ema": self.ema,
                                         "margin": self.margin, "every": self.every, "alpha": self.alpha,
                                         "search": self.search})
