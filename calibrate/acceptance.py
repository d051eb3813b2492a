"""Measure acceptance: run speculative decoding, one prompt at a time, and record every draft token.

Batch 1 on purpose: acceptance does not depend on the batch, and at batch 1 a rejected draft is
rolled back by cropping the KV caches (ENGINE-NOTES) — simple and exact. Each step drafts K
tokens (greedy, or sampled at temperature 1), the target scores all K + 1 positions in one
forward, and:

- greedy: token j is accepted iff it equals the target's argmax; the step emits the accepted
  prefix and the target's argmax after it (correction, or bonus when all K were accepted);
- sampling: token j is accepted with probability min(1, p/q) (Leviathan et al. 2023); the first
  rejection resamples from norm(max(0, p − q)); all accepted → a bonus token from p.

The emitted text is exactly the target's (greedy) or distributed as the target's (sampling), so
the contexts the draft sees are those an engine would show it.

Greedy runs also record, at every drafted position, the draft's next `RANKS − 1` candidates after
its own token — their probabilities and whether the target's argmax is one of them — which is
what a token tree would have offered there (the Profile's per-rank acceptance).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from calibrate.acceptance_stats import RANKS, SpeculationRecords
from calibrate.kv import new_cache
from realrun.models import with_cache


@dataclass(frozen=True)
class AcceptanceRun:
    max_draft_tokens: int = 8
    new_tokens: int = 128  # tokens generated per prompt
    sampling: bool = False  # False: greedy; True: temperature 1 with rejection sampling
    seed: int = 0


@torch.inference_mode()
def speculate_prompt(target, draft, prompt_ids: list[int], run: AcceptanceRun,
                     generator: torch.Generator | None = None) -> SpeculationRecords:
    """All steps of speculative decoding for one prompt (records with request = 0)."""
    device = next(target.parameters()).device
    vocab = min(target.config.vocab_size, draft.config.vocab_size)  # padded vocabularies differ
    k = run.max_draft_tokens
    target_cache, draft_cache = new_cache(target), new_cache(draft)
    if len(prompt_ids) > 1:  # caches hold everything but the last committed token
        context = torch.tensor([prompt_ids[:-1]], device=device)
        target(input_ids=context, **with_cache(target, target_cache), use_cache=True, logits_to_keep=1)
        draft(input_ids=context, **with_cache(draft, draft_cache), use_cache=True, logits_to_keep=1)
    last, draft_pending = prompt_ids[-1], [prompt_ids[-1]]
    confidences, accepts, accepted_counts = [], [], []
    rank_probabilities, rank_matches = [], []
    generated = 0
    while generated < run.new_tokens:
        tokens, q = _draft(draft, draft_cache, draft_pending, k, vocab, run.sampling, generator)
        verify_ids = torch.tensor([[last, *tokens]], device=device)
        logits = target(input_ids=verify_ids, **with_cache(target, target_cache), use_cache=True).logits
        p = torch.softmax(logits[0, :, :vocab].float(), dim=-1)  # [k + 1, vocab]
        drafted = torch.tensor(tokens, device=device)
        q_of_token = q[torch.arange(k), drafted]
        if run.sampling:
            accept = torch.clamp(p[torch.arange(k), drafted] / q_of_token, max=1.0)
            realised = torch.rand(k, device=device, generator=generator) < accept
        else:
            accept = (p[:k].argmax(dim=-1) == drafted).float()
            realised = accept.bool()
        n = int(torch.cumprod(realised.int(), dim=0).sum())
        following = _next_token(p, q, n, k, run.sampling, generator)
        confidences.append(q_of_token.cpu())
        accepts.append(accept.cpu())
        if not run.sampling:  # the candidates after the draft's own token: what a tree would offer
            top = q.topk(RANKS, dim=-1)
            rank_probabilities.append(top.values[:, 1:].cpu())
            rank_matches.append((top.indices[:, 1:] == p[:k].argmax(dim=-1)[:, None]).float().cpu())
        accepted_counts.append(n)
        # roll back: the target cache keeps `last` and the accepted drafts; the draft cache was
        # fed the pending tokens and drafts 1..k-1, and keeps the pending and accepted ones
        if k - n > 0:
            target_cache.crop(-(k - n))
        if k - 1 - n > 0:
            draft_cache.crop(-(k - 1 - n))
        draft_pending = [tokens[-1], following] if n == k else [following]
        last = following
        generated += n + 1
    steps = len(accepted_counts)
    return SpeculationRecords(
        confidence=torch.stack(confidences).double().numpy(),
        accept=torch.stack(accepts).double().numpy(),
        accepted=np.asarray(accepted_counts, dtype=np.int64),
        request=np.zeros(steps, dtype=np.int64),
        rank_probability=torch.stack(rank_probabilities).double().numpy() if rank_probabilities else None,
        rank_match=torch.stack(rank_matches).double().numpy() if rank_matches else None,
    )


def _draft(draft, cache, pending: list[int], k: int, vocab: int, sampling: bool,
           generator: torch.Generator | None) -> tuple[list[int], torch.Tensor]:
    device = next(draft.parameters()).device
    feed = torch.tensor([pending], device=device)
    tokens, rows = [], []
    for _ in range(k):
        logits = draft(input_ids=feed, **with_cache(draft, cache), use_cache=True, logits_to_keep=1).logits
        q = torch.softmax(logits[0, -1, :vocab].float(), dim=-1)
        token = torch.multinomial(q, 1, generator=generator) if sampling else q.argmax().view(1)
        tokens.append(int(token))
        rows.append(q)
        feed = token.view(1, 1)
    return tokens, torch.stack(rows)


def _next_token(p: torch.Tensor, q: torch.Tensor, n: int, k: int, sampling: bool,
                generator: torch.Generator | None) -> int:
    """The token verification always adds: correction at the first rejection, else the bonus."""
    if not sampling:
        return int(p[n].argmax())
    distribution = p[n]
    if n < k:
        residual = torch.clamp(p[n] - q[n], min=0.0)
        if float(residual.sum()) > 0:  # zero only when p == q, where rejection cannot happen
            distribution = residual
    return int(torch.multinomial(distribution / distribution.sum(), 1, generator=generator))


def speculate_prompts(target, draft, prompts: list[list[int]], run: AcceptanceRun,
                      progress: Iterator | None = None) -> SpeculationRecords:
    """All prompts of one category; `request` numbers the prompts."""
    device = next(target.parameters()).device
    generator = torch.Generator(device=device).manual_seed(run.seed)
    parts = []
    for index, prompt in enumerate(prompts):
        part = speculate_prompt(target, draft, prompt, run, generator)
        part.request[:] = index
        parts.append(part)
        if progress is not None:
            progress.update(1)
    return SpeculationRecords.concatenate(parts)
