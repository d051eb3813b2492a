"""Small vectorised formulas the policies share (POLICIES.md, "Shared math")."""

from __future__ import annotations

import numpy as np

from specsim.policy.cost import CostEstimator

# how a policy searches k: the first local maximum, the global one, or by the profile (global
# where the step time is a staircase, first drop where it is smooth)
SEARCHES = ("auto", "first_drop", "global")


def check_search(search: str) -> None:
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {search!r}")


def searches_globally(search: str, cost: CostEstimator) -> bool:
    return search == "global" or (search == "auto" and cost.staircase)


def expected_tokens(alpha: np.ndarray | float, k: int) -> np.ndarray:
    """Tokens one verification emits with i.i.d. acceptance α and k draft tokens:
    E(k) = (1 − α^(k+1)) / (1 − α) = Σ_{j=0..k} α^j (accepted prefix + the bonus/correction).
    Written as the sum so that α = 1 needs no special case."""
    alpha = np.asarray(alpha, dtype=np.float64)
    powers = alpha[..., None] ** np.arange(k + 1)
    return powers.sum(axis=-1)


def path_confidence(confidences: np.ndarray) -> np.ndarray:
    """ĉᵢⱼ = Π_{t≤j} pᵢₜ: the probability that the first j+1 draft tokens are all accepted, if
    each token's confidence were its acceptance probability. NaN (not drafted) counts as 0, so
    positions past a request's length contribute nothing."""
    return np.cumprod(np.where(np.isnan(confidences), 0.0, confidences), axis=1)  # nan_to_num: 3× slower


def observed_trials(verified: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    """Bernoulli trials one verification observed: the accepted prefix plus the rejected token,
    when there was one (accepted < verified). accepted / trials is the maximum-likelihood
    estimate of a per-token acceptance α from a truncated run, where accepted / verified is
    biased low (α = 0.8, k = 8 gives accepted/verified ≈ 0.42)."""
    return accepted + (accepted < verified)
