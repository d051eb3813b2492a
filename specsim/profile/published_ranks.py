"""Per-rank acceptance for token trees where nobody measured it: a stated model, anchored on the
one published ratio of top-5 to top-1 hits (schema.RankAcceptance says what the fields mean).

- Published (Medusa, Cai et al. 2024, arXiv 2401.10774, on Vicuna-7B): the first Medusa head's
  top-1 accuracy is about 0.6 and its top-5 accuracy over 0.8 — the target's next token is among
  the head's five best about 4/3 as often as it is its best. No per-rank figures exist for a
  small draft model; this ratio stands in.
- Modelled: the r-th candidate takes share 2^−(r−1) of the mass the top candidate leaves
  (q_r = 2^−(r−1)·(1 − q₁), r = 2..5), and the target picks it with γ·q_r — a draft calibrated
  up to γ. γ is solved per category so that at the first position P(top 5) = 4/3 · P(top 1).
"""

from __future__ import annotations

import numpy as np

from specsim.profile.confidence_model import bin_centres
from specsim.profile.schema import CategoryAcceptance, RankAcceptance

RANKS = 5  # the widest tree the stand-in serves
TOP5_OVER_TOP1 = 4.0 / 3.0
CITATION = (
    "modelled per-rank acceptance for trees (not published for this pair): candidate r >= 2 has draft "
    "probability 2^-(r-1) x (1 - q1) and matches the target with gamma x its probability, gamma solved per "
    f"category so that P(target in top {RANKS}) = {TOP5_OVER_TOP1:.4g} x P(top 1) at the first position, the "
    "ratio of the first Medusa head's top-5 (>0.8) to top-1 (~0.6) accuracy on Vicuna-7B (Cai et al. 2024, "
    "Medusa, arXiv 2401.10774)"
)


def modelled_ranks(curve: CategoryAcceptance) -> RankAcceptance:
    edges = np.asarray(curve.confidence_bin_edges)
    centres = bin_centres(edges)
    first = np.asarray(curve.confidence_hist_by_position[0])
    accept = np.asarray(curve.accept_given_confidence)
    shares = 0.5 ** np.arange(1, RANKS)
    top1 = float(first @ accept)
    rest = float(first @ (1.0 - centres))  # E[1 − q₁] at the first position
    gamma = (TOP5_OVER_TOP1 - 1.0) * top1 / (shares.sum() * rest)
    match = np.minimum(gamma * centres, 1.0)
    bins = len(centres)
    return RankAcceptance(
        probability_share=[float(share) for share in shares],
        match_given_probability=[[float(f"{p:.6g}") for p in match] for _ in shares],
        match_samples_by_bin=[[0] * bins for _ in shares],
    )
