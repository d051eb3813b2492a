"""The real `SpeculationBackend` (specsim.engine.speculation): draft passes and one verify pass
over the decode batch, with real models.

Per request the engine keeps its token sequence (prompt + generated). Invariants between steps,
for the request in decode row i:
- the target cache holds every token but the last: `len(tokens) = target_len + 1` (the last
  token — a prefill's first token, or a step's bonus/correction token — is fed by the next step);
- the draft cache holds a prefix of the tokens, possibly shorter (a request that did not draft
  last step, or that accepted everything, lags): its first draft pass feeds all it lacks
  ("catch-up"), so no step ever needs a separate draft fill.

A step: `draft`/`draft_pass` feed the draft model pass by pass (pass s runs only the requests
still drafting: a subset forward); `verify` feeds the target [last token, d1..dv] per request,
decides acceptance (greedy match or rejection sampling, `acceptance.py`), appends the accepted
drafts and the extra token, and rolls both caches back to what was kept (`kv.py`).
"""

from __future__ import annotations

import numpy as np
import torch

from realrun.acceptance import accept_greedy, accept_sampling, next_token, propose
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import with_cache


class RealSpeculation:
    def __init__(self, target, draft, target_kv: SlotKV, draft_kv: SlotKV | None, sampling: bool,
                 generator: torch.Generator | None, clock: Clock) -> None:
        self.target_model, self.draft_model = target, draft
        self.target_kv, self.draft_kv = target_kv, draft_kv
        self.sampling = sampling
        self.generator = generator
        self.clock = clock
        self.device = target_kv.device
        self.rows: list[list[int]] = []  # token sequences of decode rows 0..B-1 (shared lists)
        self.draft_tokens = torch.zeros(0, 0, dtype=torch.long)
        self.draft_probs: torch.Tensor | None = None
        self.draft_s = self.verify_s = 0.0
        self.drawn: np.ndarray | None = None  # synthetic acceptance: this step's drawn prefixes

    def begin(self, rows: list[list[int]], longest_draft: int, drawn: np.ndarray | None = None) -> None:
        """A new step over these requests' sequences (aligned with decode rows and KV slots);
        `drawn`: the accepted prefix of each row, drawn (synthetic acceptance), not decided."""
        self.rows = rows
        self.drawn = drawn
        batch = len(rows)
        self.draft_tokens = torch.zeros(batch, longest_draft, dtype=torch.long)
        self.draft_probs = None
        self.draft_s = self.verify_s = 0.0

    # -- the SpeculationBackend protocol --------------------------------------------------------
    def draft(self, lengths: np.ndarray) -> np.ndarray:
        longest = int(lengths.max())
        confidences = np.full((len(lengths), longest), np.nan)
        for position in range(longest):
            active = lengths > position
            confidences[active, position] = self.draft_pass(active, position)
        return confidences

    def draft_pass(self, active: np.ndarray, position: int) -> np.ndarray:
        start = self.clock.now()
        kv = self.draft_kv
        assert kv is not None and self.draft_model is not None
        batch = len(self.rows)
        chosen = np.flatnonzero(active)
        every = len(chosen) == batch
        if position == 0:  # feed what the draft cache lacks (usually just the last token)
            lengths = kv.lengths[:batch].tolist()
            pending = [self.rows[i][lengths[i]:] for i in chosen]
        else:
            pending = [[int(self.draft_tokens[i, position - 1])] for i in chosen]
        inputs, counts = right_padded(pending)
        rows = None if every else torch.from_numpy(chosen)
        cache = kv.batch(rows, batch if every else len(chosen), counts)
        logits = self._forward(self.draft_model, inputs, cache)
        last = logits[torch.arange(len(chosen), device=self.device), (counts - 1).to(self.device)]
        tokens, confidence, probs = propose(last, self.sampling, self.generator)
        cache.commit(counts)
        chosen_t = torch.from_numpy(chosen)
        self.draft_tokens[chosen_t, position] = tokens.cpu()
        if self.sampling:
            if self.draft_probs is None:
                self.draft_probs = torch.zeros(batch, self.draft_tokens.shape[1], probs.shape[-1],
                                               device=probs.device)
            self.draft_probs[chosen_t.to(probs.device), position] = probs
        self.draft_s += self.clock.now() - start
        return confidence.double().cpu().numpy()

    def verify(self, verify_lengths: np.ndarray) -> np.ndarray:
        start = self.clock.now()
        kv = self.target_kv
        batch = len(self.rows)
        verify = torch.from_numpy(np.asarray(verify_lengths, dtype=np.int64))
        target_lengths = kv.lengths[:batch].tolist()
        feeds, offsets = [], []
        for i, tokens in enumerate(self.rows):
            pending = tokens[target_lengths[i]:]
            offsets.append(len(pending) - 1)
            feeds.append(pending + self.draft_tokens[i, : int(verify[i])].tolist())
        inputs, counts = right_padded(feeds)
        cache = kv.batch(None, batch, counts)
        logits = self._forward(self.target_model, inputs, cache)
        # position offset + j predicts the token after draft j (j = 0: after the last token)
        width = int(verify.max()) + 1
        index = (torch.tensor(offsets)[:, None] + torch.arange(width)[None, :]).clamp(max=inputs.shape[1] - 1)
        scored = logits.gather(1, index.to(self.device)[:, :, None].expand(-1, -1, logits.shape[-1]))
        drafts = self.draft_tokens[:, : width - 1].to(self.device)
        lengths = verify.to(self.device)
        if self.drawn is not None:
            accepted, extra = self._drawn_acceptance(scored, lengths)
        elif self.sampling and width > 1:
            assert self.draft_probs is not None
            accepted, extra = accept_sampling(scored, self.draft_probs[:, : width - 1], drafts, lengths,
                                              self.generator)
        elif self.sampling:
            accepted, extra = accept_sampling(scored, scored[:, :0], drafts, lengths, self.generator)
        else:
            accepted, extra = accept_greedy(scored, drafts, lengths)
        accepted, extra = accepted.cpu(), extra.cpu()
        cache.commit(torch.tensor(offsets) + 1 + accepted)
        accepted_list, extra_list = accepted.tolist(), extra.tolist()
        for i, tokens in enumerate(self.rows):
            before = len(tokens)
            tokens.extend(self.draft_tokens[i, : accepted_list[i]].tolist())
            tokens.append(extra_list[i])
            if self.draft_kv is not None:  # draft entries past the accepted prefix are rolled back
                self.draft_kv.lengths[i] = min(int(self.draft_kv.lengths[i]), before + accepted_list[i])
        self.verify_s += self.clock.now() - start
        return accepted.numpy().astype(np.int64)

    def _drawn_acceptance(self, scored: torch.Tensor, lengths: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Synthetic acceptance: the drawn prefix, cut at what was verified; the extra token is the
        target's own choice after it, so the caches keep what the lossless path would."""
        assert self.drawn is not None
        accepted = torch.minimum(torch.from_numpy(self.drawn).to(lengths.device), lengths)
        after = scored[torch.arange(len(accepted), device=scored.device), accepted]
        return accepted, next_token(after, self.sampling, self.generator)

    def _forward(self, model, inputs: torch.Tensor, cache) -> torch.Tensor:
        output = self.clock.forward(model, input_ids=inputs.to(self.device), **with_cache(model, cache),
                                    attention_mask=cache.mask, position_ids=cache.position_ids,
                                    use_cache=True)
        return output.logits


def right_padded(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    counts = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    inputs = torch.zeros(len(sequences), int(counts.max()), dtype=torch.long)
    for i, sequence in enumerate(sequences):
        inputs[i, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return inputs, counts
