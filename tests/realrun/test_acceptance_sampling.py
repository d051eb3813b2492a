"""Speculative rejection sampling keeps the target's distribution (chi-square over many samples
on a small vocabulary), and the same check catches a deliberately broken sampler."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import chisquare

from realrun.acceptance import _prefix, accept_greedy, accept_sampling

V, K, N = 6, 2, 40_000


def _setup(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    p_logits = torch.randn(K + 1, V, generator=generator) * 1.5
    q_logits = torch.randn(K, V, generator=generator) * 1.5
    q = torch.softmax(q_logits, dim=-1)
    drafts = torch.stack([torch.multinomial(q[j], N, replacement=True, generator=generator)
                          for j in range(K)], 1)
    target_logits = p_logits.expand(N, K + 1, V)
    draft_probs = q.expand(N, K, V)
    return torch.softmax(p_logits, dim=-1), target_logits, draft_probs, drafts, generator


def _emitted(accepted: torch.Tensor, extra: torch.Tensor, drafts: torch.Tensor
             ) -> tuple[np.ndarray, np.ndarray]:
    """First emitted token of every row, and the second of rows that accepted ≥ 1."""
    first = torch.where(accepted > 0, drafts[:, 0], extra)
    keep = accepted > 0
    second = torch.where(accepted > 1, drafts[:, 1], extra)[keep]
    return first.numpy(), second.numpy()


def _p_values(first, second, p) -> tuple[float, float]:
    observed_1 = np.bincount(first, minlength=V)
    observed_2 = np.bincount(second, minlength=V)
    expected_1, expected_2 = (p[j].double().numpy() / p[j].double().sum().item() for j in (0, 1))
    p1 = chisquare(observed_1, expected_1 * len(first)).pvalue
    p2 = chisquare(observed_2, expected_2 * len(second)).pvalue
    return p1, p2


def _broken_sampling(target_logits, draft_probs, drafts, lengths, generator):
    """Accepts like the real sampler but resamples a rejection from p, not from the residual."""
    p = torch.softmax(target_logits.float(), dim=-1)
    p_tok = p[:, :K].gather(2, drafts[:, :, None]).squeeze(2)
    q_tok = draft_probs.gather(2, drafts[:, :, None]).squeeze(2)
    u = torch.rand(p_tok.shape, generator=generator)
    accepted = _prefix(u * q_tok < p_tok, lengths)
    at = p[torch.arange(len(drafts)), accepted]
    return accepted, torch.multinomial(at, 1, generator=generator).squeeze(1)


def test_rejection_sampling_preserves_target_distribution():
    p, target_logits, draft_probs, drafts, generator = _setup()
    lengths = torch.full((N,), K)
    accepted, extra = accept_sampling(target_logits, draft_probs, drafts, lengths, generator)
    first, second = _p_values(*_emitted(accepted, extra, drafts), p)
    assert first > 1e-3 and second > 1e-3
    # a verified length of 1 (pruning): the bonus comes from p at position 1
    accepted, extra = accept_sampling(target_logits, draft_probs, drafts, torch.ones(N, dtype=torch.long),
                                      generator)
    assert int(accepted.max()) <= 1
    assert _p_values(*_emitted(accepted, extra, drafts), p)[0] > 1e-3


def test_chi_square_catches_a_broken_sampler():
    p, target_logits, draft_probs, drafts, generator = _setup()
    accepted, extra = _broken_sampling(target_logits, draft_probs, drafts, torch.full((N,), K), generator)
    first, _ = _p_values(*_emitted(accepted, extra, drafts), p)
    assert first < 1e-6


def test_greedy_acceptance_is_the_matching_prefix():
    logits = torch.full((3, 4, 10), -1.0)
    best = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 1, 1]])
    logits.scatter_(2, best[:, :, None], 5.0)
    drafts = torch.tensor([[1, 2, 9], [0, 6, 7], [1, 1, 1]])
    accepted, extra = accept_greedy(logits, drafts, torch.tensor([3, 3, 2]))
    assert accepted.tolist() == [2, 0, 2]
    assert extra.tolist() == [3, 5, 1]
