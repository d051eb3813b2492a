"""One real replica: the shared scheduler's step loop (specsim.engine.scheduler) with real
prefill, real speculation (backend.py) and measured times, replaying arrivals in real time.

Step, as in the simulator:

    admit → plan (policy.plan_draft) → decode: speculate(policy, plan, backend)
          → prefill chunks → complete(plan, result, measured times) → policy.observe

- Arrivals: request i becomes visible to the scheduler only once the run clock passes its
  arrival time; when there is nothing to do the loop sleeps until the next arrival.
- Prefill: the step's chunks run as one batched forward (target, and draft when the policy
  drafts), each request's chunk written into its own KV slot; when a request's last chunk is
  done, the target's next token is chosen from the logits at its last prompt position.
- Slots: KV slot s holds decode row s; prefilling requests hold slots above the decode rows.
  The scheduler refills a leaving row with the last row and appends joining requests;
  `_sync_slots` mirrors that with slot moves (one request's cache each) before every step.
- A preempted request keeps its tokens; its recompute prefill re-feeds prompt + generated.
- Generation ignores EOS: lengths come from the workload, and the scheduler caps k so that a
  request never produces more than its output length.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from realrun.backend import RealSpeculation
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import ModelPair, with_cache
from realrun.prefill import prefill_draft, prefill_target
from realrun.tree_backend import RealTrees
from specsim.engine.scheduler import Scheduler
from specsim.engine.speculation import speculate, speculate_tree
from specsim.engine.step import SpeculationResult, StepTimes
from specsim.engine.synthetic_acceptance import SyntheticAcceptance
from specsim.policy.base import Policy


class RealReplica:
    def __init__(self, pair: ModelPair, scheduler: Scheduler, policy: Policy, prompts: list[list[int]],
                 slot_capacity: int, sampling: bool, seed: int, clock: Clock,
                 synthetic: SyntheticAcceptance | None = None) -> None:
        self.pair = pair
        self.synthetic = synthetic
        self.scheduler = scheduler
        self.policy = policy
        self.clock = clock
        self.sampling = sampling
        self.tokens = [list(p) for p in prompts]  # per request: prompt + generated
        self.prompt_total = sum(len(p) for p in prompts)
        slots = scheduler.limits.max_batch_size
        self.target_kv = SlotKV(pair.target.config, slots, slot_capacity, pair.device, pair.dtype)
        self.draft_kv = None
        if policy.uses_draft:
            self.draft_kv = SlotKV(pair.draft.config, slots, slot_capacity, pair.device, pair.dtype)
        self.generator = torch.Generator(device=pair.device).manual_seed(seed) if sampling else None
        self.backend = RealSpeculation(pair.target, pair.draft if policy.uses_draft else None, self.target_kv,
                                       self.draft_kv, sampling, self.generator, clock)
        # a tree policy's drafts and verification (greedy only), instead of `backend`
        self.trees = (RealTrees(pair.target, pair.draft, self.target_kv, self.draft_kv, clock)
                      if policy.drafts_trees and self.draft_kv is not None else None)
        self.slots = slots
        self.slot_of: dict[int, int] = {}  # request index → its KV slot (decode row, or above for prefill)
        self.steps = 0
        # per step: (its end, its decode forwards' measured time over the profile's price for the
        # same composition, the same for its prefill — NaN where the step had none —, its host time
        # outside the forwards) — the machine's speed against the profile (validate's speed
        # series); they drift apart
        self.speed_samples: list[tuple[float, float, float, float]] = []

    # -- the loop ------------------------------------------------------------------------------
    def run(self, arrival_s: np.ndarray, deadline_s: float,
            on_step: Callable[[RealReplica], None] | None = None) -> None:
        """Serve until every request is done or the clock passes `deadline_s`. KeyboardInterrupt
        propagates between steps' bookkeeping: tables stay consistent up to the last whole step."""
        scheduler, clock = self.scheduler, self.clock
        count = len(arrival_s)
        arrived = 0
        with torch.inference_mode():
            while True:
                now = clock.now()
                while arrived < count and arrival_s[arrived] <= now:
                    scheduler.enqueue(arrived)
                    arrived += 1
                if now > deadline_s:
                    return
                view = scheduler.admit(now)
                plan = scheduler.plan(now, view, self.policy)
                if plan is None:
                    if arrived >= count:
                        return
                    clock.sleep(max(0.0, min(float(arrival_s[arrived]) - clock.now(), deadline_s - now)))
                    continue
                result: SpeculationResult | None = None
                draft_s = verify_s = prefill_s = 0.0
                self._sync_slots()
                if plan.view is not None:
                    rows = [self.tokens[i] for i in scheduler.decode.index[: scheduler.decode.size].tolist()]
                    if self.trees is not None:
                        self.trees.begin(rows)
                        result = speculate_tree(self.policy, plan, self.trees)
                        draft_s, verify_s = self.trees.draft_s, self.trees.verify_s
                    else:
                        longest = int(plan.draft_lengths.max()) if len(plan.draft_lengths) else 0
                        self.backend.begin(rows, longest, self._drawn())
                        result = speculate(self.policy, plan, self.backend)
                        draft_s, verify_s = self.backend.draft_s, self.backend.verify_s
                if plan.prefill:
                    started = clock.now()
                    self._prefill(plan.prefill)
                    prefill_s = clock.now() - started
                end = clock.now()
                times = StepTimes(draft_s, verify_s, prefill_s, end - now)
                priced_decode_s, priced_prefill_s = self._priced_forwards_s(plan, result)
                decode = (draft_s + verify_s) / priced_decode_s if priced_decode_s > 0 else math.nan
                prefill = prefill_s / priced_prefill_s if priced_prefill_s > 0 else math.nan
                if not (math.isnan(decode) and math.isnan(prefill)):
                    # host time of steps with decode rows only: a prefill-only step's (mostly a
                    # wake-up's) is priced apart, by the profile (prefill_step_overhead_s, idle_wake_s)
                    host_s = max(end - now - draft_s - verify_s - prefill_s, 0.0) if result is not None \
                        else math.nan
                    self.speed_samples.append((end, decode, prefill, host_s))
                outcome = scheduler.complete(plan, result, times, end)
                if outcome is not None:
                    self.policy.observe(outcome)
                self.steps += 1
                if on_step is not None:
                    on_step(self)

    def _priced_forwards_s(self, plan, result: SpeculationResult | None) -> tuple[float, float]:
        """The profile's price of this step's decode forwards (draft, verify) and of its prefill;
        no host time."""
        batch = longest = shortest = verified_total = 0
        drafted = None
        context = 0.0
        if plan.view is not None and result is not None:
            drafted = result.drafted
            batch = len(drafted)
            longest, shortest = (int(drafted.max()), int(drafted.min())) if batch else (0, 0)
            verified_total = int(result.verified.sum())
            context = plan.view.mean_context_tokens
            if result.tree is not None:
                draft_s, verify_s, prefill_s, _ = self.scheduler.cost.price_tree(
                    batch, result.tree.depth_counts, verified_total, context, plan.chunks)
                return draft_s + verify_s, prefill_s
        draft_s, verify_s, prefill_s, _ = self.scheduler.cost.price(
            batch, drafted, longest, shortest, verified_total, context, plan.chunks)
        return draft_s + verify_s, prefill_s

    def _drawn(self) -> np.ndarray | None:
        """Synthetic acceptance: each decode row's accepted prefix at its request's decode step,
        from the stream the simulator draws from."""
        if self.synthetic is None:
            return None
        decode = self.scheduler.decode
        size = decode.size
        return self.synthetic.for_rows(decode.index[:size], decode.steps[:size], 1)[0]

    def warm_up(self) -> None:
        """A few forwards before the clock starts, so the first request does not pay for lazy
        initialisation (allocator, kernels); the slots are left empty."""
        with torch.inference_mode():
            for width in (8, 3, 1):
                inputs = torch.zeros(1, width, dtype=torch.long, device=self.pair.device)
                for model, kv in ((self.pair.target, self.target_kv), (self.pair.draft, self.draft_kv)):
                    if kv is not None:
                        cache = kv.batch(None, 1, torch.tensor([width]))
                        model(input_ids=inputs, **with_cache(model, cache), attention_mask=cache.mask,
                              position_ids=cache.position_ids, use_cache=True)
                        cache.commit(torch.tensor([width]))
        for kv in (self.target_kv, self.draft_kv):
            if kv is not None:
                kv.lengths.zero_()
        self.clock.forward_s = 0.0

    # -- prefill -------------------------------------------------------------------------------
    def _prefill(self, chunks: list) -> None:
        """One batched forward over every scheduled chunk, target then draft (`prefill.py`)."""
        slots = [self.slot_of[request.index] for request, _ in chunks]
        feeds = [self.tokens[request.index][request.prefilled: request.prefilled + chunk]
                 for request, chunk in chunks]
        fresh = [request.prefilled == 0 for request, _ in chunks]
        # a chunk that ends the prompt (not a recompute of generated tokens) gets its first token
        completes = [request.prefilled + chunk >= request.prefill_tokens
                     and len(self.tokens[request.index]) == request.prefill_tokens
                     for request, chunk in chunks]
        padded, chosen = prefill_target(self.pair.target, self.target_kv, slots, feeds, fresh, completes,
                                        self.sampling, self.generator, self.clock)
        if self.draft_kv is not None:
            prefill_draft(self.pair.draft, self.draft_kv, padded, fresh, self.clock)
        completed = [request for (request, _), complete in zip(chunks, completes, strict=True) if complete]
        for request, token in zip(completed, chosen, strict=True):
            self.tokens[request.index].append(token)

    # -- KV slots follow the scheduler -------------------------------------------------------
    def _sync_slots(self) -> None:
        """Decode row r → slot r; prefilling requests → slots above the decode rows (kept where
        they are when possible). Moves copy one request's cache each; a request that left
        (finished or preempted) frees its slot."""
        scheduler = self.scheduler
        decode = scheduler.decode
        size = decode.size
        assign = {request: row for row, request in enumerate(decode.index[:size].tolist())}
        prefilling = [r.index for r in scheduler.prefilling]
        kept = {self.slot_of[r] for r in prefilling if self.slot_of.get(r, -1) >= size}
        free = iter(sorted(set(range(size, self.slots)) - kept))
        for request in prefilling:
            slot = self.slot_of.get(request, -1)
            assign[request] = slot if slot >= size else next(free)
        sources, destinations = [], []
        for request, slot in assign.items():
            old = self.slot_of.get(request)
            if old is not None and old != slot:
                sources.append(old)
                destinations.append(slot)
        for kv in (self.target_kv, self.draft_kv):
            if kv is not None:
                kv.move(sources, destinations)
        self.slot_of = assign

