"""One step, one price: what a planned step costs, as the simulator charges it and as a policy
forecasts it.

The simulator calls `price` for the step it runs; a policy asks `uniform_step_s` / `step_s` about
hypothetical draft lengths of the same step, and gets the same number the simulator would
charge — prefill chunks co-scheduled with the decode rows included (the scheduler tells the
estimator which requests are prefilling and what budget they share, `expect_prefill`, then the
chunks it planned, `fix_prefill`), the engine's composition and its fixed costs included. In the
real engine the same prices are the policy's forecast of measured times.

A step, by the profile's engine model (`specsim/profile/engine.py`):
- `separate` (realrun's eager engine; every version-1 profile): draft passes 1..max k (pass s
  runs the requests with kᵢ ≥ s; the first feeds `first_pass_tokens` per request and is priced by
  the first-pass grid where the profile has one), one verify forward over Σ(kᵢ+1) tokens, one
  prefill forward over the chunks (target, and draft when the policy drafts) — each from its grid
  plus the engine's fixed cost per forward;
- `fused` (vLLM V1, SGLang): one target forward over every token of the step, decode rows and
  prompt chunks together, priced by the roofline over the whole forward; the draft's first pass
  also ingests the chunks. The steps table still splits the time: `prefill_s` is what the chunks
  added to the forwards they rode on.
Either way, plus the engine's host time per step (the policy's own where calibrate measured it).
"""

from __future__ import annotations

import numpy as np

from specsim.profile.engine import EngineModel
from specsim.profile.latency import LatencyModel

NO_CHUNKS: tuple[tuple[int, int], ...] = ()


class CostEstimator:
    def __init__(self, latency: LatencyModel, uses_draft: bool, engine: EngineModel | None = None,
                 policy_label: str | None = None) -> None:
        self.latency = latency
        self.uses_draft = uses_draft
        self.engine = engine or EngineModel(None)
        self.fused = self.engine.fused
        self.staircase = self.engine.staircase
        self.graph_sizes = self.engine.graph_sizes
        # this policy's own host time per decode step, where calibrate measured it
        self.policy_overhead_s: float | None = (
            latency.policy_step_overhead_s.get(policy_label) if policy_label is not None else None)
        # the step being planned: (tokens left to prefill, tokens already cached) per prefilling
        # request in scheduling order, and the step's token budget; or the chunks once planned
        self._pending: list[tuple[int, int]] = []
        self._budget = 0
        self._chunks: list[tuple[int, int]] | None = None

    # -- what the scheduler tells the estimator about the step ----------------------------------
    def expect_prefill(self, pending: list[tuple[int, int]], budget_tokens: int) -> None:
        """Before the policy plans: these requests take what the decode rows leave of the budget."""
        self._pending, self._budget, self._chunks = pending, budget_tokens, None

    def fix_prefill(self, chunks: list[tuple[int, int]]) -> None:
        """Once planned: the step's chunks, (tokens, tokens already cached) each."""
        self._chunks = chunks

    def chunks_for(self, decode_tokens: int) -> list[tuple[int, int]] | tuple[tuple[int, int], ...]:
        """The prefill chunks the step would carry beside `decode_tokens` decode tokens."""
        if self._chunks is not None:
            return self._chunks
        if not self._pending:
            return NO_CHUNKS
        budget = self._budget - decode_tokens
        chunks = []
        for remaining, cached in self._pending:
            if budget <= 0:
                break
            tokens = remaining if remaining < budget else budget
            chunks.append((tokens, cached))
            budget -= tokens
        return chunks

    # -- the price of a step --------------------------------------------------------------------
    def price(self, batch: int, draft_lengths: np.ndarray | None, longest: int, shortest: int,
              verified_total: int, context_tokens: float, chunks: list[tuple[int, int]] | tuple[()],
              first_pass_tokens: int = 1) -> tuple[float, float, float, float]:
        """(draft_s, verify_s, prefill_s, overhead_s) of a step: `batch` decode rows drafting
        `draft_lengths` (None: every row `longest`) and verifying `verified_total` tokens in all,
        on a mean context, beside prefill `chunks` of (tokens, tokens already cached)."""
        drafting = longest > 0
        if self.fused:
            draft_s, verify_s, prefill_s = self._fused(
                batch, draft_lengths, longest, shortest, verified_total, context_tokens, chunks,
                first_pass_tokens)
        else:
            draft_s = self._draft_passes_s(batch, draft_lengths, longest, shortest, context_tokens,
                                           first_pass_tokens)
            verify_s, prefill_s = self._separate_verify_prefill_s(batch, verified_total, context_tokens,
                                                                  chunks)
        return draft_s, verify_s, prefill_s, self.overhead_s(batch, drafting)

    def overhead_s(self, batch: int, drafting: bool) -> float:
        """The engine's host time per step: a prefill-only step's (batch 0); the policy's own where
        measured; else by whether any request drafts."""
        if not batch:
            return self.latency.prefill_step_overhead_s
        if self.policy_overhead_s is not None:
            return self.policy_overhead_s
        return self.latency.step_overhead_s if drafting else self.latency.plain_step_overhead_s

    def _draft_passes_s(self, batch: int, draft_lengths: np.ndarray | None, longest: int, shortest: int,
                        context_tokens: float, first_pass_tokens: int) -> float:
        """Separate composition: the draft passes from the grids, plus a fixed cost per pass."""
        if longest <= 0:
            return 0.0
        latency = self.latency
        draft_step_s = latency.draft_step_s
        fixed_s = self.engine.draft_forward_s * longest
        uniform = shortest == longest or draft_lengths is None
        if not latency.has_first_pass:  # every pass alike
            if uniform:
                return longest * draft_step_s(batch, context_tokens) + fixed_s
            rows = still_drafting(draft_lengths, longest)
            return sum(draft_step_s(rows[s], context_tokens) for s in range(1, longest + 1)) + fixed_s
        if uniform:
            return (latency.draft_first_pass_s(batch, first_pass_tokens, context_tokens)
                    + (longest - 1) * draft_step_s(batch, context_tokens) + fixed_s)
        rows = still_drafting(draft_lengths, longest)
        first_s = latency.draft_first_pass_s(rows[1], first_pass_tokens, context_tokens)
        return first_s + sum(draft_step_s(rows[s], context_tokens) for s in range(2, longest + 1)) + fixed_s

    def _separate_verify_prefill_s(self, batch: int, verified_total: int, context_tokens: float,
                                   chunks: list[tuple[int, int]] | tuple[()]) -> tuple[float, float]:
        """Separate composition: the verify forward and the prefill forward, (verify_s, prefill_s)."""
        verify_s = self.verify_pass_s(batch, 1.0 + verified_total / batch, context_tokens) if batch else 0.0
        return verify_s, self._separate_prefill_s(chunks) if chunks else 0.0

    def _separate_prefill_s(self, chunks: list[tuple[int, int]] | tuple[()]) -> float:
        """One prefill forward over the chunks, the draft's too when the policy drafts."""
        count = len(chunks)
        tokens = sum(chunk for chunk, _ in chunks)
        engine = self.engine
        fixed_s = engine.target_forward_s + (engine.draft_forward_s if self.uses_draft else 0.0)
        return self.latency.prefill_s(count, tokens / count, self.uses_draft) + fixed_s

    def _fused(self, batch: int, draft_lengths: np.ndarray | None, longest: int, shortest: int,
               verified_total: int, context_tokens: float, chunks: list[tuple[int, int]] | tuple[()],
               first_pass_tokens: int, later_passes: bool = True) -> tuple[float, float, float]:
        """One target forward over decode rows and chunks; draft passes, the first ingesting the
        chunks (the later ones priced only if `later_passes`). prefill_s is what the chunks added."""
        target, draft = self.engine.target, self.engine.draft
        assert target is not None and draft is not None
        decode_tokens = batch + verified_total
        kv = attention = 0.0
        if batch:
            per_row = decode_tokens / batch
            kv = batch * context_tokens + 2.0 * decode_tokens
            attention = decode_tokens * (context_tokens + (per_row + 1.0) * 0.5)
        verify_s = target.time_s(decode_tokens, decode_tokens, kv, attention) if batch else 0.0
        chunk_tokens = chunk_kv = chunk_attention = 0.0
        for tokens, cached in chunks:
            chunk_tokens += tokens
            chunk_kv += cached + 2.0 * tokens
            chunk_attention += tokens * (cached + (tokens + 1.0) * 0.5)
        prefill_s = 0.0
        if chunks:
            logits = len(chunks)
            prefill_s = target.time_s(decode_tokens + chunk_tokens, decode_tokens + logits, kv + chunk_kv,
                                      attention + chunk_attention) - verify_s
        draft_s = 0.0
        if longest > 0:
            if shortest == longest or draft_lengths is None:
                pass_s = draft.rows_s(batch, 1.0, context_tokens)
                first_rows, later_s = batch, (longest - 1) * pass_s
                first_s = (pass_s if first_pass_tokens == 1
                           else draft.rows_s(batch, float(first_pass_tokens), context_tokens))
            else:
                if later_passes:
                    rows = still_drafting(draft_lengths, longest)
                    first_rows = rows[1]
                    later_s = sum(draft.rows_s(rows[s], 1.0, context_tokens) for s in range(2, longest + 1))
                else:
                    first_rows, later_s = int(np.count_nonzero(draft_lengths)), 0.0
                first_s = draft.rows_s(first_rows, float(first_pass_tokens), context_tokens)
            draft_s = first_s + later_s
            if chunks and self.uses_draft:
                width = first_rows * first_pass_tokens
                prefill_s += draft.time_s(
                    width + chunk_tokens, width + len(chunks),
                    first_rows * (context_tokens + 2.0 * first_pass_tokens) + chunk_kv,
                    width * (context_tokens + (first_pass_tokens + 1.0) * 0.5) + chunk_attention) - first_s
        elif chunks and self.uses_draft:
            prefill_s += draft.time_s(chunk_tokens, len(chunks), chunk_kv, chunk_attention)
        return draft_s, verify_s, prefill_s

    # -- token trees ----------------------------------------------------------------------------
    def tree_draft_s(self, pass_rows: list[int], pass_tokens: list[int], context_tokens: float) -> float:
        """Draft passes over tree frontiers (`tree_passes`): each a draft forward over its
        rows' frontier tokens — by the roofline (fused), the draft's first-pass grid where the
        profile has one (for the first pass, as a sequence's; for a later one, a frontier wider
        than a token per row), else the one-token grid at as many rows as tokens — plus the fixed
        cost per pass."""
        total = 0.0
        latency = self.latency
        for index, (rows, tokens) in enumerate(zip(pass_rows, pass_tokens, strict=True)):
            per_row = tokens / rows
            if self.fused:
                assert self.engine.draft is not None
                total += self.engine.draft.rows_s(rows, per_row, context_tokens)
            elif latency.has_first_pass and (index == 0 or per_row > 1.0):
                total += latency.draft_first_pass_s(rows, per_row, context_tokens)
            else:
                total += latency.draft_step_s(tokens, context_tokens)
        return total + self.engine.draft_forward_s * len(pass_rows)

    def price_tree(self, batch: int, depth_counts: np.ndarray, verified_total: int, context_tokens: float,
                   chunks: list[tuple[int, int]] | tuple[()],
                   first_pass_tokens: int = 1) -> tuple[float, float, float, float]:
        """(draft_s, verify_s, prefill_s, overhead_s) of a tree step: the tree's draft passes (the
        first feeding `first_pass_tokens` per row: what the draft caches lack), one verify forward
        over Σ(nodes verified + 1), the chunks beside it."""
        pass_rows, pass_tokens = tree_passes(depth_counts)
        if pass_tokens:
            pass_tokens[0] = pass_rows[0] * first_pass_tokens
        _, verify_s, prefill_s, _ = self.price(batch, None, 0, 0, verified_total, context_tokens, chunks)
        draft_s = self.tree_draft_s(pass_rows, pass_tokens, context_tokens)
        return draft_s, verify_s, prefill_s, self.overhead_s(batch, bool(pass_rows))

    # -- what policies ask ----------------------------------------------------------------------
    def draft_s(self, draft_lengths: np.ndarray, context_tokens: float, first_pass_tokens: int = 1) -> float:
        """Draft passes 1..max k (pass s runs the requests with kᵢ ≥ s), prefill ingestion apart."""
        if len(draft_lengths) == 0:
            return 0.0
        longest, shortest = int(draft_lengths.max()), int(draft_lengths.min())
        if not self.fused:
            return self._draft_passes_s(len(draft_lengths), draft_lengths, longest, shortest,
                                        context_tokens, first_pass_tokens)
        return self._fused(len(draft_lengths), draft_lengths, longest, shortest, 0, context_tokens,
                           NO_CHUNKS, first_pass_tokens)[0]

    def verify_pass_s(self, batch: int, tokens_per_request: float, context_tokens: float) -> float:
        """The target's forward over `batch` decode rows of `tokens_per_request` (k+1, may be a
        mean) tokens each, nothing else in it: the verify curve's shape."""
        if batch <= 0:
            return 0.0
        if self.fused:
            assert self.engine.target is not None
            return self.engine.target.rows_s(batch, tokens_per_request, context_tokens)
        return self.latency.verify_s(batch, tokens_per_request, context_tokens) + self.engine.target_forward_s

    def step_s(self, draft_lengths: np.ndarray, verify_lengths: np.ndarray | None,
               context_tokens: float) -> float:
        """The whole step for per-request draft and verify lengths (verify: all drafted if None)."""
        batch = len(draft_lengths)
        if batch == 0:
            return 0.0
        longest, shortest = int(draft_lengths.max()), int(draft_lengths.min())
        verified = int((draft_lengths if verify_lengths is None else verify_lengths).sum())
        drafted = int(draft_lengths.sum())
        return sum(self.price(batch, draft_lengths, longest, shortest, verified, context_tokens,
                              self.chunks_for(batch + drafted)))

    def uniform_step_s(self, batch: int, k: int, context_tokens: float) -> float:
        """The whole step for a batch of `batch` requests all drafting and verifying k tokens."""
        if batch <= 0:
            return 0.0
        return sum(self.price(batch, None, k, k, batch * k, context_tokens, self.chunks_for(batch * (k + 1))))

    def after_draft_s(self, draft_lengths: np.ndarray, verified_total: int, context_tokens: float) -> float:
        """Everything of the step but its draft passes, once the drafts are made: the verify, the
        chunks it carries (already planned) and the host time per step."""
        batch = len(draft_lengths)
        if batch == 0:
            return 0.0
        longest, shortest = int(draft_lengths.max()), int(draft_lengths.min())
        chunks = self.chunks_for(batch + verified_total)
        if self.fused:  # the draft's first pass carries the chunks too, so the prefill needs it priced
            _, verify_s, prefill_s = self._fused(batch, draft_lengths, longest, shortest, verified_total,
                                                 context_tokens, chunks, 1, later_passes=False)
        else:  # the draft passes are apart from the rest: no need to price them
            verify_s, prefill_s = self._separate_verify_prefill_s(batch, verified_total, context_tokens,
                                                                  chunks)
        overhead_s = self.overhead_s(batch, longest > 0)
        return verify_s + prefill_s + overhead_s


def tree_passes(depth_counts: np.ndarray) -> tuple[list[int], list[int]]:
    """Draft passes of a batch of trees with depth_counts[i, j] nodes at depth j + 1: pass j runs
    the requests with nodes at depth j + 1, each feeding its frontier (the root for the first
    pass, its depth-j nodes after): (rows, tokens) per pass."""
    growing = depth_counts > 0
    rows = growing.sum(axis=0).tolist()
    if 0 in rows:  # no request reaches this depth: nor any deeper one
        rows = rows[:rows.index(0)]
    if not rows:
        return [], []
    fed = (depth_counts[:, :len(rows) - 1] * growing[:, 1:len(rows)]).sum(axis=0).tolist()
    return rows, [rows[0], *fed]


def still_drafting(draft_lengths: np.ndarray, longest: int) -> list[int]:
    """[s] = how many requests run draft pass s (kᵢ ≥ s), for s = 0..longest."""
    return np.bincount(draft_lengths, minlength=longest + 1)[::-1].cumsum()[::-1].tolist()
