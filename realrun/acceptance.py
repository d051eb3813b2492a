"""Choosing draft tokens and deciding which survive verification — pure tensor functions.

Greedy decoding: the draft proposes its argmax; a draft token is accepted while it equals the
target's argmax at that position; the first mismatch is replaced by the target's argmax (and if
all verified tokens match, the target's argmax after them is the bonus token). The output is then
token for token the target's own greedy decoding.

Sampling (temperature 1): the draft samples x ~ q; the target accepts it with probability
min(1, p(x)/q(x)); at the first rejection the token is resampled from the normalised residual
max(0, p − q); if every verified token is accepted the bonus token is sampled from p at the next
position. The output is distributed exactly as sampling from the target alone (Leviathan et al.
2023, Chen et al. 2023).

Confidence (contract 1) = the draft's softmax probability of the token it proposed.
"""

from __future__ import annotations

import torch


def propose(logits: torch.Tensor, sampling: bool, generator: torch.Generator | None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draft logits [B, V] → (tokens [B], confidences [B], probabilities [B, V])."""
    probs = torch.softmax(logits.float(), dim=-1)
    if sampling:
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    else:
        tokens = probs.argmax(dim=-1)
    return tokens, probs.gather(1, tokens[:, None]).squeeze(1), probs


def next_token(logits: torch.Tensor, sampling: bool, generator: torch.Generator | None) -> torch.Tensor:
    """The target's own choice from logits [B, V] (after a prefill, or plain decoding)."""
    if not sampling:
        return logits.argmax(dim=-1)
    return torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=generator).squeeze(1)


def accept_greedy(target_logits: torch.Tensor, draft_tokens: torch.Tensor, lengths: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """target_logits [B, K+1, V] (position j predicts the token after draft j), draft_tokens
    [B, K], lengths [B] verified per row → (accepted prefix [B], the extra token [B])."""
    best = target_logits.argmax(dim=-1)  # [B, K+1]
    width = draft_tokens.shape[1]
    match = best[:, :width] == draft_tokens
    accepted = _prefix(match, lengths)
    return accepted, best.gather(1, accepted[:, None]).squeeze(1)


def accept_sampling(target_logits: torch.Tensor, draft_probs: torch.Tensor, draft_tokens: torch.Tensor,
                    lengths: torch.Tensor, generator: torch.Generator | None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Speculative rejection sampling. draft_probs [B, K, V] are the distributions the draft
    tokens were sampled from; the rest as in `accept_greedy`."""
    p = torch.softmax(target_logits.float(), dim=-1)  # [B, K+1, V]
    batch, width = draft_tokens.shape
    if width:
        p_tok = p[:, :width].gather(2, draft_tokens[:, :, None]).squeeze(2)
        q_tok = draft_probs.gather(2, draft_tokens[:, :, None]).squeeze(2)
        u = torch.rand(batch, width, generator=generator, device=p.device)
        accept = u * q_tok < p_tok  # u < min(1, p/q), without dividing by a zero q
        accepted = _prefix(accept, lengths)
    else:
        accepted = torch.zeros(batch, dtype=torch.long, device=p.device)
    rows = torch.arange(batch, device=p.device)
    target_at = p[rows, accepted]  # [B, V]
    rejected = accepted < lengths
    distribution = target_at.clone()
    if rejected.any():
        q_at = draft_probs[rows[rejected], accepted[rejected]]
        residual = (target_at[rejected] - q_at).clamp(min=0)
        total = residual.sum(dim=-1, keepdim=True)
        # p ≤ q everywhere only when p = q, where rejection has probability 0; guard rounding
        residual = torch.where(total > 0, residual / total.clamp(min=1e-30), target_at[rejected])
        distribution[rejected] = residual
    extra = torch.multinomial(distribution, 1, generator=generator).squeeze(1)
    return accepted, extra


def _prefix(ok: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Length of the leading run of True within each row's first lengths[i] entries."""
    width = ok.shape[1]
    within = torch.arange(width, device=ok.device)[None, :] < lengths[:, None]
    return torch.cumprod((ok & within).long(), dim=1).sum(dim=1)
