"""A simulated cluster: requests arrive, a router sends each to a replica, replicas run
continuous batching with speculative decoding; one run's tables come out."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from sim.replay_acceptance import ReplayedAcceptance
from sim.replica import SimReplica
from sim.router import make_router
from sim.sampling import SampledSpeculation
from sim.step_jitter import StepJitter
from sim.tree_sampling import SampledTrees
from specsim.engine.prefix_cache import PrefixCache
from specsim.engine.records import RunLog
from specsim.engine.scheduler import BatchLimits, Scheduler
from specsim.engine.synthetic_acceptance import SyntheticAcceptance
from specsim.engine.tree import refuse_unsupported_trees
from specsim.errors import SpecsimError
from specsim.metrics import summarize
from specsim.policy import make_policy
from specsim.policy.base import Policy
from specsim.policy.cost import CostEstimator
from specsim.profile import Profile
from specsim.profile.acceptance import AcceptanceModel
from specsim.profile.engine import EngineModel
from specsim.profile.latency import LatencyModel
from specsim.profile.rank_acceptance import RankModel
from specsim.results import RunResult
from specsim.scenario import (
    STREAM_REPLICA,
    STREAM_STEP_JITTER,
    Scenario,
    build_requests,
    request_latents,
    rng_for,
    scenario_profile,
)
from specsim.workload.requests import Requests


def simulate(scenario: Scenario, policy_spec: str | dict[str, Any], seed: int,
             profile: Profile | None = None, requests: Requests | None = None,
             acceptance_replay: np.ndarray | None = None,
             speed: Callable[[float], tuple[float, float]] | None = None,
             host_time: Callable[[float], float] | None = None) -> RunResult:
    """Run one scenario under one policy and seed. `requests` replaces the generated workload
    (validation replays exactly what the real engine served); `acceptance_replay`, one per-token
    acceptance probability per request (NaN: sample it), replaces the sampled acceptance
    (sim/replay_acceptance.py); `speed(t)` → (decode, prefill) factors scales the forwards of every
    step started at simulated time t (validate's model row: a real run's measured speed against
    the profile), and `host_time(t)`, where given, replaces the profile's host time per step."""
    profile = profile or scenario_profile(scenario)
    requests = requests if requests is not None else build_requests(scenario, seed)
    label = make_policy(policy_spec).label()
    policies = [make_policy(policy_spec) for _ in range(scenario.cluster.replicas)]
    limits = _limits(scenario, profile)
    _check_requests_fit(scenario, requests, limits, policies[0].max_draft_tokens)
    synthetic = (SyntheticAcceptance(scenario.acceptance.rates, seed, policies[0].max_draft_tokens)
                 if scenario.acceptance is not None else None)
    acceptance = _acceptance_model(scenario, profile, requests, policies[0].uses_draft and synthetic is None)
    ranks = (_rank_model(scenario, profile, requests, policies[0], label, acceptance_replay is not None)
             if policies[0].drafts_trees else None)

    env = simpy.Environment()
    log = RunLog(requests, label)
    latent = request_latents(seed, len(requests))
    latency = LatencyModel(profile.latency)
    engine = EngineModel(profile.engine)
    replicas = []
    for index, policy in enumerate(policies):
        cost = CostEstimator(latency, policy.uses_draft, engine, label)
        prefix_cache = (PrefixCache(requests.prefixes, engine.kv_block_tokens)
                        if engine.prefix_caching and requests.prefixes is not None else None)
        scheduler = Scheduler(index, requests, latent, limits, policy, cost, scenario.slo.scale, log,
                              prefix_cache)
        backend = SampledSpeculation(acceptance, rng_for(seed, STREAM_REPLICA + index), synthetic)
        trees = SampledTrees(acceptance, ranks, backend.rng) if ranks is not None else None
        if acceptance_replay is not None:
            backend = ReplayedAcceptance(acceptance, backend.rng, scheduler.decode, acceptance_replay)
        jitter = (StepJitter(latency.step_time_spread, rng_for(seed, STREAM_STEP_JITTER + index),
                             latency.step_time_persistence)
                  if len(latency.step_time_spread) else None)
        replicas.append(SimReplica(env, scheduler, policy, backend, cost, jitter, speed, trees, host_time))
    router = make_router(scenario.cluster.router, replicas)

    all_done = env.event()
    log.on_all_finished = all_done.succeed
    # a request reaches its replica's scheduler after the engine's time outside the steps
    env.process(_arrivals(env, requests.arrival_s + engine.request_overhead_s, router))
    for replica in replicas:
        env.process(replica.run())
    window_s = arrival_window_s(scenario, requests)
    drain_s = scenario.drain_s if scenario.drain_s is not None else window_s
    for replica in replicas:
        replica.horizon_s = window_s + drain_s
    if len(requests):
        env.run(until=env.any_of([all_done, env.timeout(window_s + drain_s)]))
    for replica in replicas:
        replica.scheduler.record_unfinished()

    requests_table = log.requests_table()
    steps_table = log.steps_table()
    summary = summarize(requests_table, steps_table, scenario=scenario.name, policy=label, seed=seed,
                        arrival_window_s=window_s)
    details = {
        "profile": profile.name,
        "profile_source": profile.source,
        "preemptions": int(log.preemptions.sum()),
        "latency_queries": latency.queries,
        "latency_extrapolated_share": latency.extrapolated_queries / max(latency.queries, 1),
        "simulated_until_s": float(env.now),
    }
    return RunResult(requests_table, steps_table, summary, details)


def arrival_window_s(scenario: Scenario, requests: Requests) -> float:
    duration = getattr(scenario.workload, "duration_s", None)
    if duration:
        return float(duration)
    return float(requests.arrival_s.max()) if len(requests) else 0.0


def _arrivals(env: simpy.Environment, arrival_s: np.ndarray,
              route: Any) -> Generator[simpy.Event, None, None]:
    for index, at in enumerate(arrival_s.tolist()):
        if at > env.now:
            yield env.timeout(at - env.now)
        route(index).submit(index)


def _limits(scenario: Scenario, profile: Profile) -> BatchLimits:
    cluster = scenario.cluster
    capacity = cluster.kv_capacity_tokens or profile.memory.kv_capacity_tokens
    if capacity is None:
        raise SpecsimError(
            f"{scenario.source}: cluster.kv_capacity_tokens: required, since profile "
            f"{profile.name!r} does not state a KV capacity"
        )
    return BatchLimits(cluster.max_batch_size, cluster.max_batch_tokens, capacity)


def _check_requests_fit(scenario: Scenario, requests: Requests, limits: BatchLimits, max_draft: int) -> None:
    if not len(requests):
        return
    largest = int((requests.prompt_tokens + requests.output_tokens).max())
    if largest + max_draft + 1 > limits.kv_capacity_tokens:
        raise SpecsimError(
            f"{scenario.source}: cluster.kv_capacity_tokens: {limits.kv_capacity_tokens} tokens cannot "
            f"hold the largest request ({largest} tokens + {max_draft + 1} lookahead); raise it or clamp "
            "the lengths"
        )


def _rank_model(scenario: Scenario, profile: Profile, requests: Requests, policy: Policy, label: str,
                replayed: bool) -> RankModel:
    """A tree policy's per-rank acceptance; what trees cannot be run with is refused by name."""
    refuse_unsupported_trees(scenario.source, label, sampling=scenario.decoding != "greedy",
                             synthetic=scenario.acceptance is not None)
    if replayed:
        raise SpecsimError(f"{label}: a replayed acceptance is per token of a sequence; trees cannot use it")
    assert profile.acceptance is not None
    try:
        return RankModel(profile.acceptance, requests.categories, policy.tree_branching)
    except SpecsimError as error:
        raise SpecsimError(f"{profile.name}: {error}") from None


def _acceptance_model(scenario: Scenario, profile: Profile, requests: Requests,
                      uses_draft: bool) -> AcceptanceModel | Any:
    if profile.acceptance is None:
        if uses_draft:
            raise SpecsimError(
                f"profile {profile.name!r} has no acceptance curves (a random-weight calibration): "
                "it can time plain decoding only; calibrate with real weights or --acceptance-from"
            )
        return None
    try:
        return AcceptanceModel(profile.acceptance, requests.categories, scenario.decoding)
    except SpecsimError as error:
        raise SpecsimError(f"{scenario.source}: workload.categories: {error}") from None
