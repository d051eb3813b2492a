"""One replica as a SimPy process: it loops over engine steps while it has work and sleeps
until the router hands it a request when it has none. The first step after such a sleep runs its
forwards `idle_wake_factor` slower (the profile's measurement: caches and clocks went cold) and
costs `idle_wake_s` more outside them (the engine's delay in waking from its sleep, its slower host
work right after)."""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.draft_lag import DraftLag
from sim.sampling import SampledSpeculation
from sim.step_jitter import StepJitter
from sim.tree_sampling import SampledTrees
from specsim.engine.scheduler import Scheduler
from specsim.engine.speculation import speculate, speculate_tree
from specsim.engine.step import SpeculationResult, StepTimes
from specsim.policy.base import Policy
from specsim.policy.cost import NO_CHUNKS, CostEstimator
from specsim.policy.simple import FixedLength


class SimReplica:
    def __init__(self, env: simpy.Environment, scheduler: Scheduler, policy: Policy,
                 backend: SampledSpeculation, cost: CostEstimator, jitter: StepJitter | None = None,
                 speed: Callable[[float], tuple[float, float]] | None = None,
                 trees: SampledTrees | None = None,
                 host_time: Callable[[float], float] | None = None) -> None:
        self.env = env
        self.scheduler = scheduler
        self.policy = policy
        self.backend = backend
        self.cost = cost
        self.submitted_work_tokens = 0  # prompt + output tokens routed here (for the router)
        self._wakeup: simpy.Event | None = None
        self.horizon_s = float("inf")  # the run stops here: spans of steps never cross it
        self.jitter = jitter  # None: every step takes its predicted time
        # a machine's measured speed against the profile at each instant (validate's model row):
        # (decode, prefill) factors, every step's forwards taking them × their price
        self.speed = speed
        self.trees = trees  # a tree policy's drafts and verification, instead of `backend`
        # a real run's host time per step at t (validate's model row); None: the profile's
        self.host_time = host_time
        # tracked only where the profile prices the first draft pass by its width
        self.draft_lag = (DraftLag(scheduler.decode) if policy.max_draft_tokens > 0
                          and cost.latency.has_first_pass else None)
        requests = scheduler.requests
        self._work_tokens = (requests.prompt_tokens + requests.output_tokens).tolist()

    def submit(self, index: int) -> None:
        self.scheduler.enqueue(index)
        self.submitted_work_tokens += self._work_tokens[index]
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def run(self) -> Generator[simpy.Event, None, None]:
        env, scheduler, policy, backend, cost = self.env, self.scheduler, self.policy, self.backend, self.cost
        draft_lag = self.draft_lag
        jitter = self.jitter
        latency = cost.latency
        knows_future = policy.simulator_only
        trees = self.trees
        speculative = policy.max_draft_tokens > 0 and trees is None
        if speculative:
            backend.attach(scheduler.decode, policy.max_draft_tokens)
        if trees is not None:
            trees.attach(scheduler.decode)
        observes = type(policy).observe is not Policy.observe  # the default observe does nothing
        scheduler.build_outcomes = observes
        # a policy with every hook at its default decides nothing: k = 0 for all, every step
        plain = not speculative and not knows_future and all(
            getattr(type(policy), hook) is getattr(Policy, hook)
            for hook in ("plan_draft", "continue_drafting", "plan_verify", "observe"))
        # fixed(k) exactly (not a subclass): every step plans k for all, the other hooks default
        fixed_k = policy.k if type(policy) is FixedLength and speculative and not knows_future else 0
        if not backend.span_steps or self.speed is not None:  # spans price steps ahead, unscaled
            fixed_k = 0
        plain = plain and self.speed is None
        speed = self.speed
        timeout = env.timeout
        wake_scale = 1.0 + latency.idle_wake_factor
        wake_s = latency.idle_wake_s
        wakes_slow = wake_scale != 1.0 or wake_s > 0
        cold = False  # the step about to run follows an idle wait (and wakes slow, or late)
        while True:
            now = env.now
            view = scheduler.admit(now)
            if view is not None and speculative:
                future = backend.begin_step()
                if knows_future:
                    view.future_accepted = future.copy()
            plan = scheduler.plan(now, view, policy)
            if plan is None:
                self._wakeup = env.event()
                yield self._wakeup
                self._wakeup = None
                cold = wakes_slow
                continue
            if plan.view is not None and not plan.prefill and not cold:
                if plain:
                    ahead = scheduler.plain_steps_ahead()
                    if ahead >= 2 and (yield from self._plain_steps(ahead, now)):
                        continue
                elif fixed_k and scheduler.decode_only() and plan.shortest == fixed_k:
                    if (yield from self._fixed_steps(fixed_k, now)):
                        continue
            result: SpeculationResult | None = None
            batch = longest = shortest = verified_total = 0
            drafted = None
            context = 0.0
            first_pass_tokens = 1
            if plan.view is not None and trees is not None:
                result = speculate_tree(policy, plan, trees)
                batch = len(result.drafted)
                verified_total = int(result.verified.sum())
                context = plan.view.mean_context_tokens
                if draft_lag is not None:
                    first_pass_tokens = draft_lag.first_pass_tokens(result.drafted)
                    draft_lag.after_tree_step(result.drafted, result.accepted)
            elif plan.view is not None:
                backend.expect(plan)
                result = speculate(policy, plan, backend)
                context = plan.view.mean_context_tokens
                drafted, verified = result.drafted, result.verified
                batch = len(drafted)
                if draft_lag is not None:
                    first_pass_tokens = draft_lag.first_pass_tokens(drafted)
                    draft_lag.after_step(drafted, result.accepted)
                if drafted is plan.draft_lengths:
                    longest, shortest = plan.longest, plan.shortest
                else:
                    longest, shortest = (int(drafted.max()), int(drafted.min())) if batch else (0, 0)
                verified_total = plan.draft_total if verified is plan.draft_lengths else int(verified.sum())
            if result is not None and result.tree is not None:
                draft_s, verify_s, prefill_s, step_overhead_s = cost.price_tree(
                    batch, result.tree.depth_counts, verified_total, context, plan.chunks, first_pass_tokens)
            else:
                draft_s, verify_s, prefill_s, step_overhead_s = cost.price(
                    batch, drafted, longest, shortest, verified_total, context, plan.chunks,
                    first_pass_tokens)
            waking = cold
            if cold:
                draft_s, verify_s = draft_s * wake_scale, verify_s * wake_scale
                prefill_s *= wake_scale
                cold = False
            if jitter is not None:
                factor = jitter.next()
                draft_s, verify_s, prefill_s = draft_s * factor, verify_s * factor, prefill_s * factor
                step_overhead_s *= factor
            if speed is not None:
                decode_factor, prefill_factor = speed(now)
                draft_s, verify_s = draft_s * decode_factor, verify_s * decode_factor
                prefill_s *= prefill_factor
                if self.host_time is not None and batch:  # the real run's steps with decode rows
                    step_overhead_s = self.host_time(now)
            if waking:  # the engine's wake-up outside the forwards: host time
                step_overhead_s += wake_s
            step_s = draft_s + verify_s + prefill_s + step_overhead_s
            yield timeout(step_s)
            times = StepTimes(draft_s, verify_s, prefill_s, step_s)
            outcome = scheduler.complete(plan, result, times, env.now)
            if outcome is not None and observes:
                policy.observe(outcome)

    def _plain_steps(self, ahead: int, now: float) -> Generator[simpy.Event, None, int]:
        """Up to `ahead` plain-decoding steps as one wait: with no drafting, no prefill and no
        finish, every step adds a token per request and its time follows from the batch size and
        the mean context alone. Returns the steps run (0: fewer than two fit before the run's
        horizon, and the caller runs this step the ordinary way — returning 0 without waiting
        would loop forever at the same instant)."""
        scheduler = self.scheduler
        price = self.cost.price
        size = scheduler.decode.size
        context = scheduler._context_sum
        replica = scheduler.replica
        horizon = self.horizon_s
        factors = self._span_factors(ahead)
        rows: list[tuple[float | int, ...]] = []
        start = now
        for step in range(ahead):
            factor = factors[step]
            _, forward_s, _, overhead_s = price(size, None, 0, 0, 0, context / size, NO_CHUNKS)
            forward_s *= factor
            step_s = forward_s + overhead_s * factor
            end = start + step_s
            if end >= horizon:
                break
            rows.append((start, replica, size, 0, 0, 0, 0, 0.0, 0, 0.0, forward_s, step_s, 0.0, 0))
            start = end
            context += size
        if len(rows) < 2:
            return 0
        kept = yield from self._wait_rows(rows, now)
        scheduler.complete_uniform_steps(rows[:kept], 0, kept, 0)
        return kept

    def _fixed_steps(self, k: int, now: float) -> Generator[simpy.Event, None, int]:
        """Steps of `fixed(k)` as one wait, while every request drafts k (no cap applies), none
        finishes and nobody is preempted or arrives. Each step takes the next slot of the
        sampling ring, as step by step, so the tables are the same. Returns the steps run (0:
        none could be, the caller runs this step the ordinary way)."""
        scheduler, backend = self.scheduler, self.backend
        decode = scheduler.decode
        size = decode.size
        if size * (k + 1) > scheduler.limits.max_batch_tokens:
            return 0
        first, ahead = backend.ring_position()
        if ahead < 2 or scheduler._min_remaining_tokens() < 2 * k + 3:
            return 0  # not two steps without a cap or a finish
        prefix = backend.ring_prefix(first, ahead, size)  # [ahead, size] accepted if k verified
        produced = np.cumsum(prefix + 1, axis=0)  # tokens each request produced by each step's end
        remaining = decode.output_tokens[:size] - decode.generated[:size]
        # step j runs with no cap (k ≤ remaining − 1) and no finish iff remaining before it ≥ k + 2
        least = np.empty(ahead, dtype=np.int64)
        least[0] = remaining.min()
        least[1:] = (remaining - produced[:-1]).min(axis=1)
        totals = produced.sum(axis=1).tolist()  # cumulative Σ tokens at each step's end
        ok = (least >= k + 2).tolist()
        slack = scheduler.kv_slack_tokens()
        steps = 0
        while steps < ahead and ok[steps] and (steps == 0 or totals[steps - 1] <= slack):
            steps += 1
        if steps < 2:
            return 0
        price = self.cost.price
        draft_lag = self.draft_lag
        first_pass_tokens: list[int] = []
        if draft_lag is not None:  # the rows' lag, then 2 after a step where some row accepted all k
            first_pass_tokens = [draft_lag.widest(size)]
            first_pass_tokens += np.where((prefix[:steps - 1] == k).any(axis=1), 2, 1).tolist()
        replica = scheduler.replica
        horizon = self.horizon_s
        drafted = size * k
        k_mean = drafted / size
        context0 = scheduler._context_sum
        factors = self._span_factors(steps)
        rows: list[tuple[float | int, ...]] = []
        start = now
        before = 0
        for step in range(steps):
            context = (context0 + before) / size
            width = first_pass_tokens[step] if draft_lag is not None else 1
            draft_s, forward_s, _, overhead_s = price(size, None, k, k, drafted, context, NO_CHUNKS, width)
            factor = factors[step]
            draft_s, forward_s = draft_s * factor, forward_s * factor
            step_s = draft_s + forward_s + 0.0 + overhead_s * factor
            end = start + step_s
            if end >= horizon:
                break
            after = totals[step]
            rows.append((start, replica, size, 0, drafted, drafted, after - before - size, k_mean, k,
                         draft_s, forward_s, step_s, 0.0, size))
            start = end
            before = after
        if len(rows) < 2:
            return 0
        kept = yield from self._wait_rows(rows, now)
        backend.ring_advance(kept - 1)  # the first step's slot was taken by begin_step
        if draft_lag is not None:
            draft_lag.after_uniform_steps(k, prefix[kept - 1])
        rejections = (prefix[:kept] < k).sum(axis=0)
        scheduler.complete_uniform_steps(rows[:kept], k, produced[kept - 1], prefix[kept - 1].copy(),
                                         rejections)
        return kept

    def _span_factors(self, count: int) -> list[float]:
        """The jitter factors of the next `count` steps, taken by `_wait_rows` for the steps that ran."""
        return self.jitter.peek(count).tolist() if self.jitter is not None else [1.0] * count

    def _wait_rows(self, rows: list[tuple[float | int, ...]],
                   now: float) -> Generator[simpy.Event, None, int]:
        """Wait through consecutive steps (their steps-table rows); an arrival routed here cuts the
        wait after the step in progress, so the request is admitted when it would have been step
        by step. Returns how many of the steps ran."""
        if not rows:
            return 0
        env = self.env
        end = rows[-1][0] + rows[-1][11]
        wake = env.event()
        self._wakeup = wake
        env.timeout(end - now).callbacks.append(lambda _: wake.triggered or wake.succeed())
        yield wake
        self._wakeup = None
        kept = len(rows)
        cut = env.now
        if cut < end:
            # the steps that had started by the arrival run to their end
            kept = sum(1 for row in rows if row[0] <= cut)
            end = rows[kept - 1][0] + rows[kept - 1][11]
            if end > cut:
                yield env.timeout(end - cut)
        if self.jitter is not None:  # each step that ran took its factor (`_span_factors`)
            self.jitter.advance(kept)
        return kept
