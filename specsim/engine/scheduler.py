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
- Prefix caching (an engine that has it, a workload that shares prompt prefixes;
  `prefix_cache.py`): an admitted request starts its prefill after the longest cached prefix of
  its prompt; the cache's KV counts in the budget, and its unpinned prefixes are evicted before
  anyone waits or is preempted for room.
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
from specsim.engine.kv_budget import KvBudget
from specsim.engine.prefix_cache import PrefixCache
from specsim.engine.records import RunLog
from specsim.engine.step import SpeculationResult, StepPlan, StepTimes
from specsim.policy.base import BatchView, Policy, StepOutcome
from specsim.policy.cost import CostEstimator
from specsim.workload.requests import Requests


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_batch_size: int
    max_batch_tokens: int
    kv_capacity_tokens: int


class Scheduler:
    def __init__(self, replica: int, requests: Requests, latent: np.ndarray, limits: BatchLimits,
                 policy: Policy, cost: CostEstimator, slo_scale: float, log: RunLog,
                 prefix_cache: PrefixCache | None = None) -> None:
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
        self.kv = KvBudget(limits.kv_capacity_tokens, prefix_cache if requests.prefix is not None else None)
        self._admissions = 0
        self._view: BatchView | None = None  # reused while the decode set is unchanged
        self._context_sum = 0  # Σ context_tokens over the decoding rows (for the view's mean)
        self._min_remaining: int | None = None  # min(output − generated) over the rows; None: unknown
        # False: `complete` returns None instead of a StepOutcome (an engine whose policy keeps
        # the default, empty `observe` need not build one)
        self.build_outcomes = True
        self._default_plan_draft = type(policy).plan_draft is Policy.plan_draft

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
            prefix=int(requests.prefix[index]) if requests.prefix is not None else -1,
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
        cost = self.cost
        # the policy's forecasts price the step with the prefill chunks it will carry
        cost.expect_prefill([(request.prefill_tokens - request.prefilled, request.prefilled)
                             for request in self.prefilling] if self.prefilling else [], budget)
        if view is not None:
            if self._default_plan_draft and type(policy).plan_draft is Policy.plan_draft:
                planned = np.zeros(decoding, dtype=np.int64)  # what the default plan_draft returns
            else:
                # a copy: the policy may keep and change the array it returned
                planned = np.array(policy.plan_draft(view), dtype=np.int64)
            draft_lengths, total, longest, shortest = self._cap_draft_lengths(
                planned, policy.max_draft_tokens)
            budget -= decoding + total
        else:
            draft_lengths = np.zeros(0, dtype=np.int64)
            total = longest = shortest = 0
        prefill: list[tuple[RequestState, int]] = []
        chunks: list[tuple[int, int]] = []
        prefill_tokens = 0
        if self.prefilling:
            for request in self.prefilling:
                if budget <= 0:
                    break
                chunk = min(request.prefill_tokens - request.prefilled, budget)
                prefill.append((request, chunk))
                chunks.append((chunk, request.prefilled))
                prefill_tokens += chunk
                budget -= chunk
        cost.fix_prefill(chunks)
        return StepPlan(now_s, view, draft_lengths, prefill, prefill_tokens, total, longest, shortest, chunks)

    def complete(self, plan: StepPlan, result: SpeculationResult | None, times: StepTimes,
                 end_s: float) -> StepOutcome | None:
        """Apply a step's results at its end time; returns the outcome for `observe` (None for a
        prefill-only step)."""
        outcome = None
        batch = len(plan.draft_lengths)
        if plan.view is not None and result is not None:
            outcome, drafted, verified, accepted, k_max, speculating = \
                self._complete_decode(plan, result, times, end_s)
        else:
            drafted = verified = accepted = k_max = speculating = 0
        for request, chunk in plan.prefill:
            request.prefilled += chunk
            if request.prefilled >= request.prefill_tokens:
                self._finish_prefill(request, end_s)
        if not batch:
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
            if not self.kv.admit(candidate, (self.running + 1) * self.lookahead_tokens):
                break  # FCFS: the head waits for room, nobody overtakes it
            self.waiting.popleft()
            candidate.admitted_seq = self._admissions
            self._admissions += 1
            self.prefilling.append(candidate)

    def _preempt_for_lookahead(self) -> None:
        while self.running and not self.kv.make_room(self.running * self.lookahead_tokens):
            self._preempt_newest()

    def _preempt_newest(self) -> None:
        newest_prefill = max(self.prefilling, key=lambda r: r.admitted_seq, default=None)
        newest_row = int(np.argmax(self.decode.admitted_seq[: self.decode.size])) if self.decode.size else -1
        decode_seq = self.decode.admitted_seq[newest_row] if newest_row >= 0 else -1
        if newest_prefill is not None and newest_prefill.admitted_seq > decode_seq:
            self.prefilling.remove(newest_prefill)
            request = newest_prefill
            self.kv.drop_prefilling(request)
        else:
            request = self._take_row(newest_row)
            self.kv.drop_decoding(request)
        request.preemptions += 1
        request.prefilled = 0
        self.waiting.appendleft(request)

    def _cap_draft_lengths(self, planned: np.ndarray, policy_max: int) -> tuple[np.ndarray, int, int, int]:
        """kᵢ clipped to [0, min(remaining − 1, policy max)], then to the token budget; with their
        Σ, max and min."""
        decode = self.decode
        size = decode.size
        if len(planned) != size:
            raise ValueError(f"plan_draft returned {len(planned)} lengths for a batch of {size}")
        total, longest, shortest = _sum_max_min(planned)
        if shortest < 0 or longest > min(self._min_remaining_tokens() - 1, policy_max):
            remaining = decode.output_tokens[:size] - decode.generated[:size]
            upper = np.minimum(remaining - 1, policy_max)
            planned = np.minimum(np.maximum(planned, 0), upper)
            total, longest, shortest = _sum_max_min(planned)
        budget = self.limits.max_batch_tokens - size
        if total > budget:
            # lower the longest drafts first: the level L with Σ min(kᵢ, L) within the budget
            level = longest
            while level > 0 and int(np.minimum(planned, level).sum()) > budget:
                level -= 1
            planned = np.minimum(planned, level)
            total, longest, shortest = _sum_max_min(planned)
        return planned, total, longest, shortest

    def _min_remaining_tokens(self) -> int:
        if self._min_remaining is None:
            size = self.decode.size
            remaining = self.decode.output_tokens[:size] - self.decode.generated[:size]
            self._min_remaining = int(remaining.min()) if size else 1 << 62
        return self._min_remaining

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
        view.mean_context_tokens = self._context_sum / size
        return view

    def _complete_decode(self, plan: StepPlan, result: SpeculationResult, times: StepTimes,
                         end_s: float) -> tuple[StepOutcome | None, int, int, int, int, int]:
        """Apply the decode part of a step; the outcome, and the step's Σ drafted, Σ verified,
        Σ accepted, max drafted and the number of requests that drafted (for the steps table)."""
        decode = self.decode
        size = decode.size
        view = plan.view
        assert view is not None
        drafted, verified, accepted = result.drafted, result.verified, result.accepted
        if drafted is plan.draft_lengths and plan.longest >= 0:
            drafted_total, k_max, shortest = plan.draft_total, plan.longest, plan.shortest
        else:
            drafted_total, k_max, shortest = _sum_max_min(drafted)
        if k_max == 0:
            verified_total = accepted_total = 0
        else:
            verified_total = drafted_total if verified is drafted else int(verified.sum())
            accepted_total = int(accepted.sum())
        if k_max == 0:
            speculating = 0
        elif shortest > 0:
            speculating = size
        else:
            speculating = int(np.count_nonzero(drafted))
        generated = decode.generated[:size]
        if accepted_total == 0:
            generated += 1
            decode.context_tokens[:size] += 1
        else:
            produced = accepted + 1
            generated += produced
            decode.context_tokens[:size] += produced
        produced_total = accepted_total + size
        self.kv.own_tokens += produced_total
        self._context_sum += produced_total
        decode.steps[:size] += 1
        if k_max > 0:
            decode.drafted[:size] += drafted
            decode.verified[:size] += verified
            decode.accepted[:size] += accepted
            decode.rejections[:size] += accepted < verified
        decode.last_verified[:size] = verified
        decode.last_accepted[:size] = accepted
        outcome = StepOutcome(
            now_s=end_s, request_ids=decode.index[:size].copy(), drafted=drafted,
            verified=verified, accepted=accepted, confidences=result.confidences,
            draft_s=times.draft_s, verify_s=times.verify_s, prefill_s=times.prefill_s,
            step_s=times.step_s, mean_context_tokens=view.mean_context_tokens,
        ) if self.build_outcomes else None
        remaining = decode.output_tokens[:size] - generated
        least = int(remaining.min())
        self._min_remaining = least
        if least <= 0:
            done = np.flatnonzero(remaining <= 0)
            # take rows from the back so earlier row numbers stay valid while the batch shrinks
            for row in done[::-1].tolist():
                request = self._take_row(row)
                self.kv.drop_decoding(request)
                self.log.finish(request, self.replica, end_s)
        return outcome, drafted_total, verified_total, accepted_total, k_max, speculating

    # -- several steps at once (the simulator, for policies whose every step is known) -----------
    def decode_only(self) -> bool:
        """Only decoding: nobody waits or prefills, so until a request finishes, is preempted or
        arrives, every step has the same rows and no prefill."""
        return bool(self.decode.size) and not self.waiting and not self.prefilling

    def kv_slack_tokens(self) -> int:
        """Tokens the decoding rows may still add before admission's check evicts a cached prefix
        or preempts a request."""
        return self.kv.slack_tokens(self.running * self.lookahead_tokens)

    def plain_steps_ahead(self) -> int:
        """How many plain-decoding steps (every k = 0, no prefill) can run from now on before the
        decode set could change (see `decode_only`); 0 when not decode-only."""
        if not self.decode_only():
            return 0
        size = self.decode.size
        # each step adds one token per row: a row with r tokens left finishes in step r
        steps = self._min_remaining_tokens() - 1
        # before step j ≥ 2, admission's preemption check sees kv + (j − 1)·size
        return max(0, min(steps, self.kv_slack_tokens() // size + 1))

    def complete_uniform_steps(self, rows: list[tuple[float | int, ...]], k: int,
                               produced: np.ndarray | int, last_accepted: np.ndarray | int,
                               rejections: np.ndarray | int = 0) -> None:
        """Apply len(rows) decode-only steps in which every request drafted and verified k tokens
        (what `complete` would do step by step); `produced`: tokens each request produced over
        them, `last_accepted`: the last step's accepted prefixes, `rejections`: each request's
        steps that rejected a draft token; `rows`: the steps-table rows."""
        steps = len(rows)
        decode = self.decode
        size = decode.size
        decode.generated[:size] += produced
        decode.context_tokens[:size] += produced
        decode.steps[:size] += steps
        if k:
            decode.drafted[:size] += steps * k
            decode.verified[:size] += steps * k
            decode.accepted[:size] += produced - steps
            decode.rejections[:size] += rejections
        decode.last_verified[:size] = k
        decode.last_accepted[:size] = last_accepted
        total = produced * size if isinstance(produced, int) else int(produced.sum())
        self.kv.own_tokens += total
        self._context_sum += total
        if isinstance(produced, int):
            if self._min_remaining is not None:
                self._min_remaining -= produced
        else:
            self._min_remaining = None
        self.log.add_steps(rows)

    def _finish_prefill(self, request: RequestState, end_s: float) -> None:
        self.prefilling.remove(request)
        self.kv.end_prefill(request)
        request.generated += 1
        if math.isnan(request.first_token_s):
            request.first_token_s = end_s
        if request.generated >= request.output_tokens:
            self.kv.release(request)
            self.log.finish(request, self.replica, end_s)
            return
        self.kv.hold_decoding(request)
        self._context_sum += request.context_tokens
        if self._min_remaining is not None:
            self._min_remaining = min(self._min_remaining, request.output_tokens - request.generated)
        self.decode.add(request)
        self._view = None

    def _take_row(self, row: int) -> RequestState:
        self._view = None
        request = self.decode.take(row)
        self._context_sum -= request.context_tokens
        self._min_remaining = None
        return request


def _sum_max_min(values: np.ndarray) -> tuple[int, int, int]:
    """Σ, max and min of a small int array (Python on a list beats three numpy reductions up to
    a few hundred elements)."""
    if len(values) == 0:
        return 0, 0, 0
    if len(values) > 256:
        return int(values.sum()), int(values.max()), int(values.min())
    items = values.tolist()
    return sum(items), max(items), min(items)
