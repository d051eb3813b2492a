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

    def submit(self, index: int) -> None:
        self.scheduler.enqueue(index)
        requests = self.scheduler.requests
        self.submitted_work_tokens += int(requests.prompt_tokens[index] + requests.output_tokens[index])
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def run(self) -> Generator[simpy.Event, None, None]:
        env, scheduler, policy, backend, cost = self.env, self.scheduler, self.policy, self.backend, self.cost
        decode = scheduler.decode
        latency = cost.latency
        knows_future = policy.simulator_only
        while True:
            now = env.now
            view = scheduler.admit(now)
            if view is not None and knows_future:
                size = decode.size
                view.future_accepted = backend.prepare(decode.category[:size], decode.latent[:size],
                                                       policy.max_draft_tokens)
            plan = scheduler.plan(now, view, policy)
            if plan is None:
                self._wakeup = env.event()
                yield self._wakeup
                self._wakeup = None
                continue
            result: SpeculationResult | None = None
            draft_s = verify_s = 0.0
            if plan.view is not None:
                if not knows_future:
                    size = decode.size
                    longest = int(plan.draft_lengths.max())
                    backend.prepare(decode.category[:size], decode.latent[:size], longest)
                result = speculate(policy, plan, backend)
                context = plan.view.mean_context_tokens
                draft_s = cost.draft_s(result.drafted, context)
                verify_s = cost.verify_s(result.verified, context)
            chunks = len(plan.prefill)
            prefill_s = latency.prefill_s(chunks, plan.prefill_tokens / chunks, policy.uses_draft) \
                if chunks else 0.0
            step_s = draft_s + verify_s + prefill_s + latency.step_overhead_s
            yield env.timeout(step_s)
            times = StepTimes(draft_s, verify_s, prefill_s, step_s)
            outcome = scheduler.complete(plan, result, times, env.now)
            if outcome is not None:
                policy.observe(outcome)
