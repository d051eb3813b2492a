"""Continuous batching for one replica, shared by the simulator and the real engine so that both
make the same admission, budget, chunking and preemption decisions.

A step, as both engines run it:

    view = scheduler.admit(now_s)                 # admit, preempt; the decoding requests' view
    plan = scheduler.plan(now_s, view, policy)    # ask plan_draft, cap k, plan prefill chunks
    result = speculate(policy, plan, backend)     # draft / plan_verify / verify (speculation.py)
    ... the step's time passes (simulated or real) ...
    outcome = scheduler.complete(plan, result, times, end_s)
    policy.observe(outcome)

Rules (vLLM-like, FCFS):
- Admission: waiting requests join in arrival order while the batch has room (max batch size)
  and the KV cache can hold their whole prefill plus every running request's lookahead of
  K+1 tokens (K = the policy's max draft length), as real engines reserve room for speculation.
- Budget: each step processes at most `max_batch_tokens` tokens. Decoding requests come first,
  kᵢ+1 tokens each (the policy's kᵢ are capped if they don't fit); prefill chunks take what is
  left, oldest request first (chunked prefill).
- Preemption: when the cache cannot hold the running requests' lookahead, the newest request is
  preempted and queued at the front again; its prefill later recomputes prompt + generated.
- A finished prefill yields one token (the first token, or the next one after a recompute).
- Every request's kᵢ is capped at its remaining tokens − 1, so a step never overshoots its
  output length (the real engine forces exact output lengths).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from specsim.engine.batch import DecodeBatch, RequestState
from specsim.engine.records import RunLog
from specsim.policy.base import BatchView, Policy, StepOutcome
from specsim.policy.cost import CostEstimator
from specsim.workload.requests import Requests


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_batch_size: int
    max_batch_tokens: int
    kv_capacity_tokens: int


@dataclass(slots=True)
class StepPlan:
    start_s: float
    view: BatchView | None  # None: no request is decoding (a prefill-only step)
    draft_lengths: np.ndarray  # planned k per decoding request, after the engine's caps
    prefill: list[tuple[RequestState, int]]  # (request, tokens of its prompt processed this step)
    prefill_tokens: int


@dataclass(slots=True)
class SpeculationResult:
    drafted: np.ndarray  # int64 [B]
    verified: np.ndarray
    accepted: np.ndarray  # accepted prefix; each request also gets one more token
    confidences: np.ndarray  # [B, K], NaN past drafted


@dataclass(slots=True)
class StepTimes:
    draft_s: float
    verify_s: float
    prefill_s: float
    step_s: float


class Scheduler:
    def __init__(self, replica: int, requests: Requests, latent: np.ndarray, limits: BatchLimits,
                 policy: Policy, cost: CostEstimator, slo_scale: float, log: RunLog) -> None:
        self.replica = replica
        self.requests = requests
        self.latent = latent
        self.limits = limits
        self.cost = cost
        self.slo_scale = slo_scale
        self.log = log
        self.lookahead_tokens = policy.max_draft_tokens + 1
        self.waiting: deque[RequestState] = deque()
        self.prefilling: list[RequestState] = []
        self.decode = DecodeBatch(limits.max_batch_size)
        self.kv_reserved_tokens = 0  # prefill reservations + decoding contexts
        self._admissions = 0
        self._view: BatchView | None = None  # reused while the decode set is unchanged

    # -- queue ---------------------------------------------------------------------------------
    def enqueue(self, index: int) -> None:
        requests = self.requests
        assert requests.slo_ttft_s is not None and requests.slo_tpot_s is not None
        self.waiting.append(RequestState(
            index=index,
            prompt_tokens=int(requests.prompt_tokens[index]),
            output_tokens=int(requests.output_tokens[index]),
            arrival_s=float(requests.arrival_s[index]),
            category=int(requests.category[index]),
            slo_ttft_s=float(requests.slo_ttft_s[index]),
            slo_tpot_s=float(requests.slo_tpot_s[index]),
            latent=float(self.latent[index]),
        ))

    @property
    def running(self) -> int:
        return self.decode.size + len(self.prefilling)

    def outstanding_requests(self) -> int:
        return self.running + len(self.waiting)

    def has_work(self) -> bool:
        return bool(self.waiting or self.prefilling or self.decode.size)

    # -- one step ------------------------------------------------------------------------------
    def admit(self, now_s: float) -> BatchView | None:
        """Admit and preempt; the view of the decoding requests (None when none is decoding)."""
        self._admit()
        self._preempt_for_lookahead()
        return self._current_view(now_s) if self.decode.size else None

    def plan(self, now_s: float, view: BatchView | None, policy: Policy) -> StepPlan | None:
        """Ask the policy for draft lengths, cap them, plan prefill chunks. None: nothing to do."""
        decoding = self.decode.size
        if decoding == 0 and not self.prefilling:
            return None
        budget = self.limits.max_batch_tokens
        if view is not None:
            planned = np.asarray(policy.plan_draft(view), dtype=np.int64)
            draft_lengths = self._cap_draft_lengths(planned, policy.max_draft_tokens)
            budget -= decoding + int(draft_lengths.sum())
        else:
            draft_lengths = np.zeros(0, dtype=np.int64)
        prefill: list[tuple[RequestState, int]] = []
        prefill_tokens = 0
        for request in self.prefilling:
            if budget <= 0:
                break
            chunk = min(request.prefill_tokens - request.prefilled, budget)
            prefill.append((request, chunk))
            prefill_tokens += chunk
            budget -= chunk
        return StepPlan(now_s, view, draft_lengths, prefill, prefill_tokens)

    def complete(self, plan: StepPlan, result: SpeculationResult | None, times: StepTimes,
                 end_s: float) -> StepOutcome | None:
        """Apply a step's results at its end time; returns the outcome for `observe` (None for a
        prefill-only step)."""
        outcome = None
        if plan.view is not None and result is not None:
            outcome = self._complete_decode(plan, result, times, end_s)
        for request, chunk in plan.prefill:
            request.prefilled += chunk
            if request.prefilled >= request.prefill_tokens:
                self._finish_prefill(request, end_s)
        batch = len(plan.draft_lengths)
        if result is not None and batch:
            drafted, verified = int(result.drafted.sum()), int(result.verified.sum())
            accepted, k_max = int(result.accepted.sum()), int(result.drafted.max())
            speculating = int(np.count_nonzero(result.drafted))
        else:
            drafted = verified = accepted = k_max = speculating = 0
        self.log.add_step(
            plan.start_s, self.replica, batch, plan.prefill_tokens, drafted, verified, accepted,
            drafted / batch if batch else 0.0, k_max, times.draft_s, times.verify_s, times.prefill_s,
            times.step_s, speculating,
        )
        return outcome

    def record_unfinished(self) -> None:
        """At the end of a run: log the progress of every request still here."""
        for request in [*self.waiting, *self.prefilling]:
            self.log.record(request, self.replica)
        for row in range(self.decode.size - 1, -1, -1):
            self.log.record(self._take_row(row), self.replica)

    # -- internals -----------------------------------------------------------------------------
    def _admit(self) -> None:
        limits = self.limits
        while self.waiting and self.running < limits.max_batch_size:
            candidate = self.waiting[0]
            lookahead = (self.running + 1) * self.lookahead_tokens
            if self.kv_reserved_tokens + candidate.prefill_tokens + lookahead > limits.kv_capacity_tokens:
                break  # FCFS: the head waits for room, nobody overtakes it
            self.waiting.popleft()
            candidate.prefilled = 0
            candidate.admitted_seq = self._admissions
            self._admissions += 1
            self.kv_reserved_tokens += candidate.prefill_tokens
            self.prefilling.append(candidate)

    def _preempt_for_lookahead(self) -> None:
        capacity = self.limits.kv_capacity_tokens
        while self.running and self.kv_reserved_tokens + self.running * self.lookahead_tokens > capacity:
            self._preempt_newest()

    def _preempt_newest(self) -> None:
        newest_prefill = max(self.prefilling, key=lambda r: r.admitted_seq, default=None)
        newest_row = int(np.argmax(self.decode.admitted_seq[: self.decode.size])) if self.decode.size else -1
        decode_seq = self.decode.admitted_seq[newest_row] if newest_row >= 0 else -1
        if newest_prefill is not None and newest_prefill.admitted_seq > decode_seq:
            self.prefilling.remove(newest_prefill)
            request = newest_prefill
            self.kv_reserved_tokens -= request.prefill_tokens
        else:
            request = self._take_row(newest_row)
            self.kv_reserved_tokens -= request.context_tokens
        request.preemptions += 1
        request.prefilled = 0
        self.waiting.appendleft(request)

    def _cap_draft_lengths(self, planned: np.ndarray, policy_max: int) -> np.ndarray:
        decode = self.decode
        size = decode.size
        remaining = decode.output_tokens[:size] - decode.generated[:size]
        lengths = np.clip(planned, 0, np.minimum(remaining - 1, policy_max))
        budget = self.limits.max_batch_tokens - size
        if lengths.sum() > budget:
            # lower the longest drafts first: the level L with Σ min(kᵢ, L) within the budget
            level = int(lengths.max())
            while level > 0 and np.minimum(lengths, level).sum() > budget:
                level -= 1
            lengths = np.minimum(lengths, level)
        return lengths

    def _current_view(self, now_s: float) -> BatchView:
        view = self._view
        decode = self.decode
        size = decode.size
        if view is None:
            view = BatchView(
                now_s=now_s, queue_length=len(self.waiting), prefilling=len(self.prefilling),
                request_ids=decode.index[:size], context_tokens=decode.context_tokens[:size],
                generated_tokens=decode.generated[:size], arrival_s=decode.arrival_s[:size],
                first_token_s=decode.first_token_s[:size], slo_ttft_s=decode.slo_ttft_s[:size],
                slo_tpot_s=decode.slo_tpot_s[:size], slo_scale=self.slo_scale,
                drafted_tokens=decode.drafted[:size], verified_tokens=decode.verified[:size],
                accepted_tokens=decode.accepted[:size], last_verified=decode.last_verified[:size],
                last_accepted=decode.last_accepted[:size], memory=decode.memory[:size],
                max_batch_tokens=self.limits.max_batch_tokens,
                mean_context_tokens=0.0, cost=self.cost,
            )
            self._view = view
        view.now_s = now_s
        view.queue_length = len(self.waiting)
        view.prefilling = len(self.prefilling)
        view.mean_context_tokens = float(decode.context_tokens[:size].mean())
        return view

    def _complete_decode(self, plan: StepPlan, result: SpeculationResult, times: StepTimes,
                         end_s: float) -> StepOutcome:
        decode = self.decode
        size = decode.size
        view = plan.view
        assert view is not None
        produced = result.accepted + 1
        decode.generated[:size] += produced
        decode.context_tokens[:size] += produced
        self.kv_reserved_tokens += int(produced.sum())
        decode.steps[:size] += 1
        decode.drafted[:size] += result.drafted
        decode.verified[:size] += result.verified
        decode.accepted[:size] += result.accepted
        decode.rejections[:size] += result.accepted < result.verified
        decode.last_verified[:size] = result.verified
        decode.last_accepted[:size] = result.accepted
        outcome = StepOutcome(
            now_s=end_s, request_ids=decode.index[:size].copy(), drafted=result.drafted,
            verified=result.verified, accepted=result.accepted, confidences=result.confidences,
            draft_s=times.draft_s, verify_s=times.verify_s, prefill_s=times.prefill_s,
            step_s=times.step_s, mean_context_tokens=view.mean_context_tokens,
        )
        done = np.flatnonzero(decode.generated[:size] >= decode.output_tokens[:size])
        # take rows from the back so earlier row numbers stay valid while the batch shrinks
        for row in done[::-1]:
            request = self._take_row(int(row))
            self.kv_reserved_tokens -= request.context_tokens
            self.log.finish(request, self.replica, end_s)
        return outcome

    def _finish_prefill(self, request: RequestState, end_s: float) -> None:
        self.prefilling.remove(request)
        self.kv_reserved_tokens -= request.prefill_tokens
        request.generated += 1
        if math.isnan(request.first_token_s):
            request.first_token_s = end_s
        if request.generated >= request.output_tokens:
            self.log.finish(request, self.replica, end_s)
            return
        self.kv_reserved_tokens += request.context_tokens
        self.decode.add(request)
        self._view = None

    def _take_row(self, row: int) -> RequestState:
        self._view = None
        return self.decode.take(row)
