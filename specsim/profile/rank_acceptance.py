"""Sampling a tree node's candidates from a Profile's per-rank curves (`schema.RankAcceptance`).

Given the top candidate's draft probability q₁ and P(the target picks it) — the sequence
model's draw — the r-th candidate has q_r = share_r·(1 − q₁) and the target picks it with
match_r(q_r); the chances are scaled down where they sum past 1 (the target picks one token).
"""

from __future__ import annotations

import numpy as np

from specsim.errors import SpecsimError
from specsim.profile.confidence_model import confidence_bins
from specsim.profile.schema import Acceptance

# match_r is tabulated over this many equal slices of [0, 1], so a look-up is one take
LEVELS = 1024


class RankModel:
    """Per-category tables for ranks 2..`branching`; ranks past it never enter a tree, so the
    target choosing one of them is a miss like any other token."""

    def __init__(self, acceptance: Acceptance, categories: tuple[str, ...], branching: int) -> None:
        self.branching = branching
        extra = branching - 1
        self.shares = np.zeros((len(categories), extra))
        self.match = np.zeros((len(categories), extra, LEVELS))
        levels = (np.arange(LEVELS) + 0.5) / LEVELS
        for index, name in enumerate(categories):
            ranks = acceptance.greedy[name].ranks
            if extra and ranks is None:
                raise SpecsimError(
                    f"the profile's acceptance has no per-rank curves (acceptance.greedy.{name}.ranks): "
                    f"a tree with {branching} candidates per node needs them; recalibrate the pair, or use a "
                    "sequence policy (slo_customized:tree=false, or a width-1 tree)")
            if ranks is None:
                continue
            known = 1 + len(ranks.probability_share)
            if known < branching:
                raise SpecsimError(
                    f"acceptance.greedy.{name}.ranks knows ranks up to {known}; the policy asks {branching} "
                    "candidates per node")
            edges = np.asarray(acceptance.greedy[name].confidence_bin_edges)
            bins = confidence_bins(levels, edges)
            for rank in range(extra):
                self.shares[index, rank] = ranks.probability_share[rank]
                self.match[index, rank] = np.asarray(ranks.match_given_probability[rank])[bins]

    def candidates(self, category: np.ndarray, top_probability: np.ndarray,
                   top_match: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draft probabilities [M, branching] of each node's candidates and P(the target picks
        each) [M, branching], given the top candidate's (from the sequence model)."""
        category = np.asarray(category, dtype=np.intp)
        rest = np.take(self.shares, category, axis=0) * (1.0 - top_probability)[:, None]
        slices = np.minimum((rest * LEVELS).astype(np.intp), LEVELS - 1)
        extra = self.shares.shape[1]
        match_rest = self.match[category[:, None], np.arange(extra)[None, :], slices]
        probabilities = np.concatenate([top_probability[:, None], rest], axis=1)
        match = np.concatenate([top_match[:, None], match_rest], axis=1)
        # where they sum past 1, scaled to 1 (elsewhere divided by 1: unchanged, bit for bit)
        match /= np.maximum(match.sum(axis=1), 1.0)[:, None]
        return probabilities, match
