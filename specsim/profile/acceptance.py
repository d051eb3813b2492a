"""Sampling draft confidences and acceptance for simulated requests, from a Profile's curves.

The model (documented on `schema.CategoryAcceptance`): a request carries a latent z ~ N(0, 1);
its draft token at position j has confidence Q_j(Φ(√λ·z + √(1−λ)·ε)), Q_j the quantile function
of position j's confidence histogram, and is accepted with P(accept | confidence) — the first
rejection ends the run. With λ = 0 and a flat P(accept | ·) = α this is the i.i.d. model whose
expected tokens per step is (1 − α^(k+1)) / (1 − α).

Both quantile and acceptance look-ups are tabulated once over a fine grid of quantiles, so a
step's sampling is a handful of vectorised numpy operations whatever the batch size.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from specsim.errors import SpecsimError
from specsim.profile.confidence_model import confidence_bins
from specsim.profile.schema import Acceptance, CategoryAcceptance

QUANTILE_STEPS = 1024


def _quantile_table(edges: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Confidence at the midpoints of QUANTILE_STEPS equal-probability slices of a histogram,
    uniform within each bin."""
    levels = (np.arange(QUANTILE_STEPS) + 0.5) / QUANTILE_STEPS
    cumulative = np.concatenate([[0.0], np.cumsum(shares)])
    cumulative[-1] = 1.0
    # empty bins carry no probability: interpolating the CDF's inverse skips them
    keep = np.concatenate([[True], np.diff(cumulative) > 0])
    return np.interp(levels, cumulative[keep], edges[keep])


class AcceptanceModel:
    """Per-category tables of confidence and P(accept) over (position, quantile)."""

    def __init__(self, acceptance: Acceptance, categories: tuple[str, ...], mode: str = "greedy") -> None:
        curves = acceptance.greedy if mode == "greedy" else acceptance.sampling
        if curves is None:
            raise SpecsimError(f"the profile has no acceptance curves for {mode!r} decoding")
        missing = [name for name in categories if name not in curves]
        if missing:
            raise SpecsimError(
                f"the profile has no acceptance curve for categories {missing} (it has {sorted(curves)})"
            )
        self.positions = acceptance.max_draft_tokens
        tables = [self._tables(curves[name]) for name in categories]
        self.confidence = np.stack([confidence for confidence, _ in tables])  # [category, position, q]
        self.accept_probability = np.stack([accept for _, accept in tables])
        self._confidence_flat = np.ascontiguousarray(self.confidence).ravel()
        self._accept_flat = np.ascontiguousarray(self.accept_probability).ravel()
        share = np.array([curves[name].request_share for name in categories])
        self.shared_weight = np.sqrt(share)
        self.own_weight = np.sqrt(1.0 - share)

    def _tables(self, curve: CategoryAcceptance) -> tuple[np.ndarray, np.ndarray]:
        edges = np.asarray(curve.confidence_bin_edges)
        accept_by_bin = np.asarray(curve.accept_given_confidence)
        confidence = np.stack([
            _quantile_table(edges, np.asarray(shares)) for shares in curve.confidence_hist_by_position
        ])
        bins = confidence_bins(confidence, edges)
        return confidence, accept_by_bin[bins]

    def sample(self, rng: np.random.Generator, category: np.ndarray, latent: np.ndarray,
               positions: int) -> tuple[np.ndarray, np.ndarray]:
        """Confidences [B, positions] and the accepted prefix length [B] if all were verified.

        Positions past the profile's last one reuse the last position's curve.
        """
        confidence, prefix = self.sample_steps(rng, category, latent, 1, positions)
        return confidence[0], prefix[0]

    def sample_steps(self, rng: np.random.Generator, category: np.ndarray, latent: np.ndarray,
                     steps: int, positions: int) -> tuple[np.ndarray, np.ndarray]:
        """`steps` independent steps at once: confidences [steps, B, positions] and accepted
        prefixes [steps, B] (each request keeps its latent across steps)."""
        batch = len(category)
        shape = (steps, batch, positions)
        category = np.asarray(category, dtype=np.intp)
        noise = rng.standard_normal(shape)
        noise *= self.own_weight[category][:, None]
        noise += (self.shared_weight[category] * latent)[:, None]
        quantile = ndtr(noise, out=noise)
        quantile *= QUANTILE_STEPS
        slices = quantile.astype(np.intp)
        np.minimum(slices, QUANTILE_STEPS - 1, out=slices)
        # one flat index into [category, position, quantile] tables
        position = np.minimum(np.arange(positions), self.positions - 1)
        stride = self.confidence.shape[1]
        base = (category[:, None] * stride + position[None, :]) * QUANTILE_STEPS  # [B, positions]
        slices += base
        confidence = np.take(self._confidence_flat, slices)
        accepted = rng.random(shape) < np.take(self._accept_flat, slices)
        prefix = np.cumprod(accepted, axis=2).sum(axis=2)
        return confidence, prefix

    def sample_nodes(self, rng: np.random.Generator, category: np.ndarray, latent: np.ndarray,
                     position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One draw per tree node whose children sit at `position` (0-based, per node): the
        draft's top candidate's confidence and P(the target picks it), [M] each — the sequence
        model's draw for that position, so a tree of width 1 samples what a sequence does."""
        category = np.asarray(category, dtype=np.intp)
        noise = rng.standard_normal(len(category))
        noise *= self.own_weight[category]
        noise += self.shared_weight[category] * latent
        slices = (ndtr(noise) * QUANTILE_STEPS).astype(np.intp)
        np.minimum(slices, QUANTILE_STEPS - 1, out=slices)
        stride = self.confidence.shape[1]
        slices += (category * stride + np.minimum(position, self.positions - 1)) * QUANTILE_STEPS
        return np.take(self._confidence_flat, slices), np.take(self._accept_flat, slices)
