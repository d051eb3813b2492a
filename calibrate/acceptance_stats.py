"""From per-step speculation records to the Profile's `CategoryAcceptance` (numpy only).

A record is one verification step that drafted K tokens: the draft's confidence in each of its
K tokens (its probability of the token it proposed), each token's acceptance value — 1/0 for
greedy (draft token == target argmax), min(1, p/q) for sampling, always computed as if every
earlier token were accepted — and the accepted prefix the step realised. Greedy records also hold
the draft's candidates of ranks 2..RANKS at each position (probability, and whether the target's
argmax is that candidate), from which the per-rank acceptance trees need is estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from specsim.profile.confidence_model import confidence_bins
from specsim.profile.schema import CategoryAcceptance, RankAcceptance

CONFIDENCE_BIN_EDGES = tuple(round(0.1 * i, 1) for i in range(11))
MAX_REQUEST_SHARE = 0.95  # the schema needs λ < 1; a measured λ this high means "all shared"
RANKS = 5  # candidates per position recorded for trees: the widest tree a measured profile serves


@dataclass
class SpeculationRecords:
    """Steps of one category, as aligned arrays (steps × K, or per step)."""

    confidence: np.ndarray  # float [steps, K]
    accept: np.ndarray  # float [steps, K] in [0, 1]
    accepted: np.ndarray  # int [steps]: realised accepted prefix (0..K)
    request: np.ndarray  # int [steps]: which prompt the step belongs to
    rank_probability: np.ndarray | None = None  # float [steps, K, RANKS − 1]: candidates 2..RANKS
    rank_match: np.ndarray | None = None  # float [steps, K, RANKS − 1]: 1 where the target's argmax

    @classmethod
    def concatenate(cls, parts: list[SpeculationRecords]) -> SpeculationRecords:
        names = ["confidence", "accept", "accepted", "request"]
        if all(part.rank_probability is not None for part in parts):
            names += ["rank_probability", "rank_match"]
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in names))

    @property
    def draft_tokens(self) -> int:
        return int(self.confidence.size)


def summarise(records: SpeculationRecords, bin_edges: tuple[float, ...] = CONFIDENCE_BIN_EDGES
              ) -> CategoryAcceptance:
    confidence, accept = records.confidence, records.accept
    steps, max_k = confidence.shape
    if steps == 0:
        raise ValueError("no speculation steps to summarise")
    edges = np.asarray(bin_edges, dtype=np.float64)
    bins = confidence_bins(confidence, edges)
    n_bins = len(edges) - 1

    hist = np.stack([np.bincount(bins[:, j], minlength=n_bins) / steps for j in range(max_k)])
    # tokens whose earlier positions were all accepted (realised): the simulator's conditional
    eligible = records.accepted[:, None] >= np.arange(max_k)[None, :]
    samples = np.bincount(bins[eligible], minlength=n_bins)
    sums = np.bincount(bins[eligible], weights=accept[eligible], minlength=n_bins)
    rates = fill_empty_bins(sums, samples, edges)

    # P(prefix ≥ j) = E[Π_{t≤j} a_t]: exact for greedy, the unbiased expectation for sampling
    position = np.cumprod(accept, axis=1).mean(axis=0)
    return CategoryAcceptance(
        confidence_bin_edges=[float(e) for e in edges],
        confidence_hist_by_position=[[float(x) for x in row] for row in hist],
        accept_given_confidence=[float(x) for x in rates],
        accept_samples_by_bin=[int(x) for x in samples],
        request_share=request_share(confidence, records.request),
        position_acceptance=[float(x) for x in position],
        mean_accepted_length=[float(x) for x in 1.0 + np.cumsum(position)],
        requests=len(np.unique(records.request)),
        draft_tokens=records.draft_tokens,
        ranks=rank_acceptance(records, eligible, edges),
    )


def rank_acceptance(records: SpeculationRecords, eligible: np.ndarray,
                    edges: np.ndarray) -> RankAcceptance | None:
    """Candidates 2..RANKS at the positions on the accepted path (the contexts a tree's node would
    have): each one's share of what the top candidate leaves, and P(target's argmax = it | its
    probability) per confidence bin. None for records without candidates (sampling runs)."""
    if records.rank_probability is None or records.rank_match is None:
        return None
    probability = records.rank_probability[eligible]  # [tokens, RANKS − 1]
    match = records.rank_match[eligible]
    left = 1.0 - records.confidence[eligible]
    usable = left > 1e-9  # a top candidate of probability 1 leaves no share to measure
    shares = (probability[usable] / left[usable, None]).mean(axis=0) if usable.any() else \
        np.zeros(probability.shape[1])
    n_bins = len(edges) - 1
    rows, samples_rows = [], []
    for rank in range(probability.shape[1]):
        bins = confidence_bins(probability[:, rank], edges)
        samples = np.bincount(bins, minlength=n_bins)
        sums = np.bincount(bins, weights=match[:, rank], minlength=n_bins)
        rows.append([float(x) for x in fill_empty_bins(sums, samples, edges)])
        samples_rows.append([int(x) for x in samples])
    return RankAcceptance(probability_share=[float(x) for x in shares], match_given_probability=rows,
                          match_samples_by_bin=samples_rows)


def fill_empty_bins(sums: np.ndarray, samples: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean per bin; bins without samples take the value interpolated between their nearest
    measured neighbours (flat beyond the ends). `accept_samples_by_bin` = 0 marks them."""
    centres = (edges[:-1] + edges[1:]) / 2
    seen = samples > 0
    if not seen.any():
        return np.zeros(len(samples))
    rates = np.divide(sums, samples, out=np.zeros(len(samples)), where=seen)
    return np.clip(np.interp(centres, centres[seen], rates[seen]), 0.0, 1.0)


def request_share(confidence: np.ndarray, request: np.ndarray) -> float:
    """λ: intra-request correlation (ICC(1), one-way random effects) of the confidences'
    normal scores z = Φ⁻¹(empirical quantile), the quantile taken per position."""
    steps, max_k = confidence.shape
    z = np.empty_like(confidence, dtype=np.float64)
    for j in range(max_k):
        z[:, j] = ndtri((rankdata(confidence[:, j]) - 0.5) / steps)
    values = z.ravel()
    groups = np.repeat(request, max_k)
    _, group_index, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups, total = len(sizes), len(values)
    if n_groups < 2 or total <= n_groups:
        return 0.0
    means = np.bincount(group_index, weights=values) / sizes
    grand = values.mean()
    between = float(np.sum(sizes * (means - grand) ** 2) / (n_groups - 1))
    within = float(np.sum((values - means[group_index]) ** 2) / (total - n_groups))
    n0 = (total - np.sum(sizes**2) / total) / (n_groups - 1)
    denominator = between + (n0 - 1) * within
    icc = (between - within) / denominator if denominator > 0 else 0.0
    return float(np.clip(icc, 0.0, MAX_REQUEST_SHARE))
