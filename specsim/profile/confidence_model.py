"""Exact consequences of the acceptance sampling model in `schema.CategoryAcceptance`.

The simulator samples, per request, a latent z ~ N(0, 1) and per drafted token a confidence at
the quantile Φ(√λ·z + √(1−λ)·ε) of that position's histogram; the token is accepted with the
probability of its confidence bin, and the first rejection ends the run. Given z the positions
are independent, so every reporting quantity is a one-dimensional integral over z, done here by
Gauss–Hermite quadrature (deterministic, no sampling noise):

- `position_acceptance[i]` = P(accepted prefix ≥ i) = E_z[Π_{j≤i} α_j(z)];
- `mean_accepted_length[k-1]` = 1 + Σ_{i≤k} position_acceptance[i] (accepted prefix + 1 token);
- the mean tokens per step under Hugging Face's "heuristic" draft-length schedule, which is how
  Spec-Bench measured its speculative-sampling baseline (used to calibrate to published figures).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import betainc, ndtr, ndtri

QUADRATURE_NODES = 64


@functools.lru_cache(maxsize=4)
def latent_quadrature(nodes: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for expectations over z ~ N(0, 1). Cached (the eigenvalue
    solve behind it dominates a calibration otherwise), so the arrays are read-only."""
    z, weights = hermegauss(nodes)
    weights = weights / weights.sum()
    z.flags.writeable = False
    weights.flags.writeable = False
    return z, weights


def beta_histogram(mean: float, concentration: float, edges: np.ndarray) -> np.ndarray:
    """Shares of a Beta(κ·m, κ·(1−m)) confidence distribution falling in each bin."""
    if not 0.0 < mean < 1.0:
        raise ValueError(f"mean confidence must lie in (0, 1), got {mean}")
    cdf = betainc(concentration * mean, concentration * (1.0 - mean), np.asarray(edges, dtype=np.float64))
    shares = np.diff(cdf)
    return shares / shares.sum()


def bin_centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])


def confidence_bins(confidence: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each confidence; 1.0 falls in the last bin."""
    index = np.searchsorted(edges, confidence, side="right") - 1
    return np.clip(index, 0, len(edges) - 2)


def conditional_acceptance(hist_by_position: np.ndarray, accept_given_bin: np.ndarray,
                           request_share: float, z: np.ndarray) -> np.ndarray:
    """α_j(z): P(accept at position j | latent z, earlier positions accepted); shape [z, position].

    Given z, the normal score s = √λ·z + √(1−λ)·ε falls in bin b when Φ(s) lies between the
    histogram's cumulative shares F_{b−1} and F_b, which has probability
    Φ((Φ⁻¹(F_b) − √λ·z)/√(1−λ)) − Φ((Φ⁻¹(F_{b−1}) − √λ·z)/√(1−λ)).
    """
    hist = np.asarray(hist_by_position, dtype=np.float64)
    cumulative = np.concatenate([np.zeros((hist.shape[0], 1)), np.cumsum(hist, axis=1)], axis=1)
    cumulative = np.clip(cumulative, 0.0, 1.0)
    cumulative[:, -1] = 1.0
    scores = ndtri(cumulative)  # −inf at 0, +inf at 1: ndtr maps them back exactly
    shared, own = np.sqrt(request_share), np.sqrt(1.0 - request_share)
    z = np.asarray(z, dtype=np.float64)
    below = ndtr((scores[None, :, :] - shared * z[:, None, None]) / own)  # [z, position, edge]
    bin_probability = np.diff(below, axis=2)
    return bin_probability @ np.asarray(accept_given_bin, dtype=np.float64)


def survival_given_latent(hist_by_position: np.ndarray, accept_given_bin: np.ndarray,
                          request_share: float, z: np.ndarray) -> np.ndarray:
    """P(accepted prefix ≥ i | z) for i = 1..positions; shape [z, position]."""
    return np.cumprod(conditional_acceptance(hist_by_position, accept_given_bin, request_share, z), axis=1)


def position_acceptance(hist_by_position: np.ndarray, accept_given_bin: np.ndarray,
                        request_share: float) -> np.ndarray:
    """P(accepted prefix ≥ i), i = 1..positions, averaged over requests."""
    z, weights = latent_quadrature()
    return weights @ survival_given_latent(hist_by_position, accept_given_bin, request_share, z)


def mean_accepted_length(position_acceptance_rates: np.ndarray) -> np.ndarray:
    """[k-1]: expected tokens per step when drafting k = 1..positions (prefix + bonus/correction)."""
    return 1.0 + np.cumsum(np.asarray(position_acceptance_rates, dtype=np.float64))


def iid_mean_accepted_length(alpha: float, k: int) -> float:
    """The closed form (1 − α^(k+1)) / (1 − α) for i.i.d. acceptance α (POLICIES.md)."""
    if alpha == 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def heuristic_schedule_mean_tokens(survival: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean tokens per step under Hugging Face's "heuristic" draft-length schedule.

    transformers' assisted generation (the "SpS" baseline Spec-Bench ran, transformers 4.37)
    drafts k tokens, then sets k ← k + 2 if all k were accepted, else k ← max(1, k − 1). For a
    request whose survival curve is S[i] = P(prefix ≥ i) this is a Markov chain on k; we take its
    stationary mean of 1 + Σ_{i≤k} S[i]. k is capped at the number of positions modelled (beyond
    it the chain stays put), which matters little: reaching k ≥ 8 needs runs of full acceptance.

    `survival` is [request type, position] (one row per latent quadrature node) with `weights`;
    requests are taken to produce equal numbers of tokens, so the step-averaged figure a benchmark
    reports is the harmonic mean of the per-request means.
    """
    survival = np.atleast_2d(np.asarray(survival, dtype=np.float64))
    weights = np.ones(survival.shape[0]) / survival.shape[0] if weights is None else np.asarray(weights)
    rows, positions = survival.shape
    k = np.arange(1, positions + 1)
    up, down = np.minimum(k + 2, positions) - 1, np.maximum(k - 1, 1) - 1
    transition = np.zeros((rows, positions, positions))
    transition[:, k - 1, up] += survival  # all k accepted: draft two more next time
    transition[:, k - 1, down] += 1.0 - survival  # a rejection: draft one fewer
    stationary = _stationary(transition)
    tokens = 1.0 + np.cumsum(survival, axis=1)
    per_request = np.einsum("rk,rk->r", stationary, tokens)
    return float(1.0 / (weights @ (1.0 / per_request)))


def _stationary(transition: np.ndarray) -> np.ndarray:
    """π with π·P = π, Σπ = 1, for a stack of chains [row, from, to]: solve (Pᵀ − I)π = 0 with the
    last equation replaced by the normalisation."""
    rows, size, _ = transition.shape
    system = np.transpose(transition, (0, 2, 1)) - np.eye(size)
    system[:, -1, :] = 1.0
    rhs = np.zeros((rows, size))
    rhs[:, -1] = 1.0
    return np.linalg.solve(system, rhs[..., None])[..., 0]
