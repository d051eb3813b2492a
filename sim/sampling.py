"""The simulator's stand-in for running models: each step's draft confidences and acceptance are
sampled from the profile's acceptance model, then revealed pass by pass like real drafting."""

from __future__ import annotations

import numpy as np

from specsim.profile.acceptance import AcceptanceModel


class SampledSpeculation:
    """A `SpeculationBackend` (specsim.engine.speculation) for one replica.

    `prepare` samples, for every decoding request, K positions of confidence and the accepted
    prefix if all K were verified; `draft`/`draft_pass` reveal confidences, `verify` cuts the
    accepted prefix at the verified length. Sampling all K at once is what lets `oracle` know
    the outcome ahead — and is the cheapest way to sample anyway.
    """

    def __init__(self, model: AcceptanceModel, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.confidences = np.empty((0, 0))
        self.prefix = np.empty(0, dtype=np.int64)

    def prepare(self, category: np.ndarray, latent: np.ndarray, positions: int) -> np.ndarray:
        """Sample this step's outcomes; returns the accepted prefix if `positions` were verified."""
        if positions > 0:
            self.confidences, self.prefix = self.model.sample(self.rng, category, latent, positions)
        else:
            self.confidences = np.empty((len(category), 0))
            self.prefix = np.zeros(len(category), dtype=np.int64)
        return self.prefix

    def draft(self, lengths: np.ndarray) -> np.ndarray:
        longest = int(lengths.max())
        confidences = self.confidences[:, :longest].copy()
        confidences[np.arange(longest)[None, :] >= lengths[:, None]] = np.nan
        return confidences

    def draft_pass(self, active: np.ndarray, position: int) -> np.ndarray:
        return self.confidences[active, position]

    def verify(self, verify_lengths: np.ndarray) -> np.ndarray:
        return np.minimum(self.prefix, verify_lengths)
