"""One replica as a SimPy process: it loops over engine steps while it has work and sleeps
until the router hands it a request when it has none."""

from __future__ import annotations

from collections.abc import Generator

import simpy

from sim.sampling import SampledSpeculation
from specsim.engine.scheduler import Scheduler, SpeculationResult, StepTimes
from specsim.engine.speculation import speculate
from specsim.policy.base import Policy
from specsim.policy.cost import CostEstimator


class SimReplica:
    def __init__(self, env: simpy.Environment, scheduler: Scheduler, policy: Policy,
                 backend: SampledSpeculation, cost: CostEstimator) -> None:
        self.env = env
        self.scheduler = scheduler
        self.policy = policy
        self.backend = backend
        self.cost = cost
        self.submitted_work_tokens = 0  # prompt + output tokens routed here (for the router)
        self._wakeup: simpy.Event | None = None
        requests = scheduler.requests
        self._work_tokens = (requests.prompt_tokens + requests.output_tokens).tolist()

    def submit(self, index: int) -> None:
        self.scheduler.enqueue(index)
        self.submitted_work_tokens += self._work_tokens[index]
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def run(self) -> Generator[simpy.Event, None, None]:
        env, scheduler, policy, backend, cost = self.env, self.scheduler, self.policy, self.backend, self.cost
        latency = cost.latency
        overhead_s = latency.step_overhead_s
        uses_draft = policy.uses_draft
        knows_future = policy.simulator_only
        speculative = policy.max_draft_tokens > 0
        if speculative:
            backend.attach(scheduler.decode, policy.max_draft_tokens)
        observes = type(policy).observe is not Policy.observe  # the default observe does nothing
        scheduler.build_outcomes = observes
        timeout = env.timeout
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
                continue
            result: SpeculationResult | None = None
            draft_s = verify_s = 0.0
            if plan.view is not None:
                backend.expect(plan)
                result = speculate(policy, plan, backend)
                context = plan.view.mean_context_tokens
                drafted, verified = result.drafted, result.verified
                if drafted is plan.draft_lengths:
                    draft_s = cost.draft_s_known(drafted, plan.longest, plan.shortest, context)
                else:
                    draft_s = cost.draft_s(drafted, context)
                if verified is plan.draft_lengths:
                    verified_total = plan.draft_total
                else:
                    verified_total = int(verified.sum())
                verify_s = cost.verify_s_known(len(verified), verified_total, context)
            chunks = len(plan.prefill)
            prefill_s = latency.prefill_s(chunks, plan.prefill_tokens / chunks, uses_draft) if chunks else 0.0
            step_s = draft_s + verify_s + prefill_s + overhead_s
            yield timeout(step_s)
            times = StepTimes(draft_s, verify_s, prefill_s, step_s)
            outcome = scheduler.complete(plan, result, times, env.now)
            if outcome is not None and observes:
                policy.observe(outcome)
