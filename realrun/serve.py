"""`serve`: one scenario, one policy, one seed, on real models — the real-world twin of
`sim.cluster.simulate`, writing the same tables (contract 3) through the same RunLog.

A real run has one replica: `cluster.replicas > 1` is refused (one device serves one replica;
running replicas one after another would not reproduce a cluster's shared arrival stream).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from realrun.clock import Clock
from realrun.engine import RealReplica
from realrun.kv import SlotKV
from realrun.models import load_pair
from realrun.progress import Progress
from realrun.prompts import find_prompt_file, request_prompts
from specsim.engine.records import RunLog
from specsim.engine.scheduler import BatchLimits, Scheduler
from specsim.engine.synthetic_acceptance import SyntheticAcceptance
from specsim.engine.tree import refuse_unsupported_trees
from specsim.errors import SpecsimError
from specsim.metrics import summarize
from specsim.policy import make_policy
from specsim.policy.cost import CostEstimator
from specsim.profile import Profile
from specsim.profile.engine import EngineModel
from specsim.profile.latency import LatencyModel
from specsim.results import RunResult
from specsim.scenario import Scenario, build_requests, request_latents, rng_for, scenario_profile
from specsim.workload.requests import Requests


@dataclass
class RealRunResult(RunResult):
    """A RunResult plus the token ids: each request's prompt and what it generated (tests and
    benchmarks compare them; `write` leaves them out)."""

    prompts: list[list[int]] = field(default_factory=list)
    outputs: list[list[int]] = field(default_factory=list)


STREAM_PROMPTS = 200  # the real engine's own random stream: which prompt each request gets
STREAM_SAMPLING = 201


def serve(scenario: Scenario, policy_spec: str | dict, seed: int, target: str | Path,
          draft: str | Path | None, device: str = "cpu", sampling: bool | None = None,
          show_progress: bool = True, *, profile: Profile | None = None, prompts: str | Path | None = None,
          requests: Requests | None = None, dtype: str | None = None) -> RealRunResult:
    """Replay the scenario's requests (arrivals in real time) on the target/draft pair under the
    policy; Ctrl-C stops early and keeps every finished request's row. `sampling` None: the
    scenario's `decoding`. `profile` (default: the scenario's) only feeds the policy's cost
    estimator; `prompts` a prompt file (default: `prompts.jsonl` beside the target, else the
    built-in set)."""
    if scenario.cluster.replicas != 1:
        raise SpecsimError(f"{scenario.source}: cluster.replicas: a real run serves one replica on one "
                           f"device, got {scenario.cluster.replicas}; set it to 1")
    policy = make_policy(policy_spec)
    label = policy.label()
    if policy.simulator_only:
        raise SpecsimError(f"policy {label!r} is simulator-only (it knows the future); the real engine "
                           "cannot run it")
    if policy.uses_draft and draft is None:
        raise SpecsimError(f"--draft is required: policy {label!r} drafts (only 'none' runs without one)")
    sampling = scenario.decoding == "sampling" if sampling is None else sampling
    if policy.drafts_trees:
        refuse_unsupported_trees(scenario.source, label, sampling=sampling,
                                 synthetic=scenario.acceptance is not None)
    profile = profile or scenario_profile(scenario)
    requests = requests if requests is not None else build_requests(scenario, seed)
    limits = _limits(scenario, profile)
    longest = int((requests.prompt_tokens + requests.output_tokens).max()) if len(requests) else 1
    slot_capacity = longest + policy.max_draft_tokens + 2  # + one scratch column (kv.py)
    if longest + policy.max_draft_tokens + 1 > limits.kv_capacity_tokens:  # as the simulator checks
        raise SpecsimError(
            f"{scenario.source}: cluster.kv_capacity_tokens: {limits.kv_capacity_tokens} tokens cannot "
            f"hold the largest request ({longest} tokens + {policy.max_draft_tokens + 1} lookahead); raise "
            "it or clamp the lengths")

    pair = load_pair(target, draft, device, load_draft=policy.uses_draft, dtype=dtype, seed=seed)
    _check_memory(pair, limits.max_batch_size, slot_capacity, policy.uses_draft)
    positions = getattr(pair.target.config, "max_position_embeddings", None)
    if positions is not None and longest + policy.max_draft_tokens + 1 > positions:
        raise SpecsimError(f"{scenario.source}: workload: a request of {longest} tokens "
                           f"(+ {policy.max_draft_tokens + 1} lookahead) exceeds the target's {positions} "
                           "positions; clamp the prompt/output lengths")
    prompt_file = find_prompt_file(target, prompts)
    prompt_ids = request_prompts(requests, prompt_file, pair.tokenizer, pair.vocab_size,
                                 rng_for(seed, STREAM_PROMPTS))

    log = RunLog(requests, label)
    cost = CostEstimator(LatencyModel(profile.latency), policy.uses_draft, EngineModel(profile.engine), label)
    scheduler = Scheduler(0, requests, request_latents(seed, len(requests)), limits, policy, cost,
                          scenario.slo.scale, log)
    clock = Clock(pair.device)
    try:
        synthetic = (SyntheticAcceptance(scenario.acceptance.rates, seed, policy.max_draft_tokens)
                     if scenario.acceptance is not None else None)
        replica = RealReplica(pair, scheduler, policy, prompt_ids, slot_capacity, sampling,
                              int(rng_for(seed, STREAM_SAMPLING).integers(2**62)), clock, synthetic)
    except torch.OutOfMemoryError:
        raise _memory_error(pair, limits.max_batch_size, slot_capacity) from None
    window_s = _arrival_window_s(scenario, requests)
    drain_s = scenario.drain_s if scenario.drain_s is not None else window_s
    progress = Progress(len(requests), log, sys.stderr) if show_progress else None
    interrupted = False
    replica.warm_up()
    clock.restart()  # arrivals count from here, after loading and warm-up
    try:
        replica.run(requests.arrival_s, window_s + drain_s, progress.update if progress else None)
    except KeyboardInterrupt:
        interrupted = True
    except torch.OutOfMemoryError:
        raise _memory_error(pair, limits.max_batch_size, slot_capacity) from None
    finally:
        if progress is not None:
            progress.close()
    scheduler.record_unfinished()

    requests_table = log.requests_table()
    steps_table = log.steps_table()
    summary = summarize(requests_table, steps_table, scenario=scenario.name, policy=label, seed=seed,
                        arrival_window_s=window_s)
    step_total = float(steps_table["step_s"].sum()) if len(steps_table) else 0.0
    details = {
        "engine": "realrun",
        "target": str(target),
        "draft": str(draft) if draft is not None else None,
        "device": str(pair.device),
        "dtype": str(pair.dtype).removeprefix("torch."),
        "sampling": sampling,
        # synthetic acceptance: counts drawn, so the output is not the target's own text
        "acceptance": ("synthetic (drawn counts; output tokens are not the target's)"
                       if scenario.acceptance is not None else "the models' verification"),
        "profile": profile.name,
        "prompts": str(prompt_file) if prompt_file else "built-in",
        "preemptions": int(log.preemptions.sum()),
        "interrupted": interrupted,
        "forward_s": clock.forward_s,
        "speed_samples": [[round(value, 6) for value in sample] for sample in replica.speed_samples],
        "overhead_share": 1.0 - clock.forward_s / step_total if step_total > 0 else math.nan,
        "torch": torch.__version__,
    }
    outputs = [tokens[len(prompt_ids[i]):] for i, tokens in enumerate(replica.tokens)]
    return RealRunResult(requests_table, steps_table, summary, details, prompts=prompt_ids, outputs=outputs)


def _arrival_window_s(scenario: Scenario, requests: Requests) -> float:
    """As the simulator's: the workload's duration, else the last arrival."""
    duration = getattr(scenario.workload, "duration_s", None)
    if duration:
        return float(duration)
    return float(requests.arrival_s.max()) if len(requests) else 0.0


def _limits(scenario: Scenario, profile: Profile) -> BatchLimits:
    cluster = scenario.cluster
    capacity = cluster.kv_capacity_tokens or profile.memory.kv_capacity_tokens
    if capacity is None:
        raise SpecsimError(f"{scenario.source}: cluster.kv_capacity_tokens: required, since profile "
                           f"{profile.name!r} does not state a KV capacity")
    return BatchLimits(cluster.max_batch_size, cluster.max_batch_tokens, capacity)


def _kv_bytes(pair, slots: int, capacity: int, uses_draft: bool) -> int:
    total = SlotKV.bytes_needed(pair.target.config, slots, capacity, pair.dtype)
    if uses_draft and pair.draft is not None:
        total += SlotKV.bytes_needed(pair.draft.config, slots, capacity, pair.dtype)
    return total


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        return 1 << 62


def _check_memory(pair, slots: int, capacity: int, uses_draft: bool) -> None:
    needed = _kv_bytes(pair, slots, capacity, uses_draft)
    if needed > 0.9 * _free_bytes(pair.device):
        raise _memory_error(pair, slots, capacity, needed)


def _memory_error(pair, slots: int, capacity: int, needed: int | None = None) -> SpecsimError:
    needed = needed if needed is not None else _kv_bytes(pair, slots, capacity, True)
    free = _free_bytes(pair.device)
    return SpecsimError(
        f"not enough {pair.device.type} memory: the KV cache needs {needed / 2**30:.2f} GiB "
        f"({slots} slots × {capacity} tokens) and {free / 2**30:.2f} GiB is free; lower "
        "cluster.max_batch_size (or the workload's prompt/output lengths)"
    )

