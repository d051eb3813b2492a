"""One real replica: the shared scheduler's step loop (specsim.engine.scheduler) with real
prefill, real speculation (backend.py) and measured times, replaying arrivals in real time.

Step, as in the simulator:

    admit → plan (policy.plan_draft) → decode: speculate(policy, plan, backend)
          → prefill chunks → complete(plan, result, measured times) → policy.observe

- Arrivals: request i becomes visible to the scheduler only once the run clock passes its
  arrival time; when there is nothing to do the loop sleeps until the next arrival.
- Prefill: each scheduled chunk is one forward of that request alone into its own staging
  DynamicCache (target, and draft when the policy drafts); when its last chunk is done, the
  target's next token is chosen and the staging caches wait until the request takes its decode
  row, where they are copied into the request's KV slot (`_sync_slots`).
- Slots: KV slot s always holds decode row s. The scheduler refills a leaving row with the last
  row; `_sync_slots` mirrors that with slot moves before every decode step.
- A preempted request keeps its tokens; its recompute prefill re-feeds prompt + generated.
- Generation ignores EOS: lengths come from the workload, and the scheduler caps k so that a
  request never produces more than its output length.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from realrun.acceptance import next_token
from realrun.backend import RealSpeculation
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import ModelPair
from specsim.engine.scheduler import Scheduler, SpeculationResult, StepTimes
from specsim.engine.speculation import speculate
from specsim.policy.base import Policy


class RealReplica:
    def __init__(self, pair: ModelPair, scheduler: Scheduler, policy: Policy, prompts: list[list[int]],
                 slot_capacity: int, sampling: bool, seed: int, clock: Clock) -> None:
        self.pair = pair
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
        self.slot_request: list[int] = []  # request index in each occupied slot (= decode row)
        self.staging: dict[int, tuple[object, object | None]] = {}  # prefill caches by request
        self.steps = 0

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
                    time.sleep(max(0.0, min(float(arrival_s[arrived]) - clock.now(), deadline_s - now)))
                    continue
                result: SpeculationResult | None = None
                draft_s = verify_s = prefill_s = 0.0
                if plan.view is not None:
                    self._sync_slots()
                    rows = [self.tokens[i] for i in self.slot_request]
                    longest = int(plan.draft_lengths.max()) if len(plan.draft_lengths) else 0
                    self.backend.begin(rows, longest)
                    result = speculate(self.policy, plan, self.backend)
                    draft_s, verify_s = self.backend.draft_s, self.backend.verify_s
                if plan.prefill:
                    started = clock.now()
                    for request, chunk in plan.prefill:
                        self._prefill(request, chunk)
                    prefill_s = clock.now() - started
                end = clock.now()
                times = StepTimes(draft_s, verify_s, prefill_s, end - now)
                outcome = scheduler.complete(plan, result, times, end)
                if outcome is not None:
                    self.policy.observe(outcome)
                self.steps += 1
                if on_step is not None:
                    on_step(self)

    # -- prefill -------------------------------------------------------------------------------
    def _prefill(self, request, chunk: int) -> None:
        from transformers import DynamicCache

        index = request.index
        if request.prefilled == 0:  # a new prefill, or the recompute after a preemption
            if index in self.slot_request:  # a preempted request's old slot is not its cache any more
                self.slot_request[self.slot_request.index(index)] = -1
            draft = self.pair.draft if self.policy.uses_draft else None
            self.staging[index] = (DynamicCache(config=self.pair.target.config),
                                   DynamicCache(config=draft.config) if draft is not None else None)
        tokens = self.tokens[index]
        start = request.prefilled
        ids = torch.tensor([tokens[start: start + chunk]], device=self.pair.device)
        positions = torch.arange(start, start + chunk, device=self.pair.device)[None]
        target_cache, draft_cache = self.staging[index]
        logits = self.clock.forward(self.pair.target, input_ids=ids, position_ids=positions,
                                    past_key_values=target_cache, use_cache=True, logits_to_keep=1).logits
        if draft_cache is not None:
            self.clock.forward(self.pair.draft, input_ids=ids, position_ids=positions,
                               past_key_values=draft_cache, use_cache=True, logits_to_keep=1)
        if start + chunk >= request.prefill_tokens and len(tokens) == request.prefill_tokens:
            tokens.append(int(next_token(logits[:, -1], self.sampling, self.generator)[0]))

    # -- KV slots follow decode rows -----------------------------------------------------------
    def _sync_slots(self) -> None:
        decode = self.scheduler.decode
        wanted = decode.index[: decode.size].tolist()
        where = {request: slot for slot, request in enumerate(self.slot_request)}
        sources, destinations, loads = [], [], []
        for row, request in enumerate(wanted):
            slot = where.get(request)
            if slot is None:
                loads.append((row, request))
            elif slot != row:
                sources.append(slot)
                destinations.append(row)
        for kv in (self.target_kv, self.draft_kv):
            if kv is not None:
                kv.move(sources, destinations)
        for row, request in loads:
            target_cache, draft_cache = self.staging.pop(request)
            self.target_kv.load(row, target_cache)
            if self.draft_kv is not None and draft_cache is not None:
                self.draft_kv.load(row, draft_cache)
        self.slot_request = wanted
        # prefills that ended their request (one-token outputs) leave staging caches behind
        prefilling = {r.index for r in self.scheduler.prefilling}
        for request in [r for r in self.staging if r not in prefilling]:
            del self.staging[request]
