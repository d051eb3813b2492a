"""The engine's host time per step outside its backend calls and prefill — admission, the
scheduler's plan and bookkeeping, the policy's decision, the speculation protocol's glue, KV slot
moves — measured by running the real engine (`realrun.engine.RealReplica`) for a moment on the
pair being calibrated, and read from its own steps table as the engine books it:
step − draft − verify − prefill.

Why the engine itself and not a model of it: this time is Python, and its size is whatever the
engine's code makes it (0.15 ms per plain step and 0.4 ms per fixed-k step of the tiny pair on the
2-core CPU). The decode forwards with their host work are timed separately (`latency.py`), so the
simulator's step = draft + verify + prefill + this.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from realrun.clock import Clock
from realrun.engine import RealReplica
from realrun.models import ModelPair
from specsim.engine.records import RunLog
from specsim.engine.scheduler import BatchLimits, Scheduler
from specsim.policy.base import Policy
from specsim.policy.cost import CostEstimator
from specsim.profile.latency import LatencyModel
from specsim.profile.synthetic import linear_profile
from specsim.workload.requests import Requests

PROMPT_TOKENS = 16
RUN_S = 1.0  # of serving per measurement: ~50 decode steps of the tiny pair on the CPU


def measure_step_overhead(target, draft, policy: Policy, batch: int, seconds: float, device: str,
                          max_positions: int) -> float:
    """Median host time per decode step (no prefill in it) of `batch` requests served by `policy`
    on the real engine for about `seconds`. Requests all arrive at once and are long enough not to
    finish (within `max_positions`); their prompts are random token ids."""
    lookahead = policy.max_draft_tokens + 1
    output_tokens = max(2, min(512, max_positions - PROMPT_TOKENS - lookahead - 1))
    requests = Requests(
        arrival_s=np.zeros(batch), prompt_tokens=np.full(batch, PROMPT_TOKENS, dtype=np.int64),
        output_tokens=np.full(batch, output_tokens, dtype=np.int64), category=np.zeros(batch, dtype=np.int64),
        categories=("any",),
    ).with_slos(np.full(batch, 1.0), np.full(batch, 0.1))
    capacity = batch * (PROMPT_TOKENS + output_tokens + lookahead)
    limits = BatchLimits(max_batch_size=batch, max_batch_tokens=batch * max(PROMPT_TOKENS, lookahead),
                         kv_capacity_tokens=capacity)
    # the policy's cost estimates need a latency model; the fixed-k and plain steps measured here
    # never ask, and an adaptive policy's answers only steer its k, not the time measured
    cost = CostEstimator(LatencyModel(linear_profile(draft_step_s=1e-3, verify_base_s=1e-2).latency),
                         policy.uses_draft)
    log = RunLog(requests, policy.label())
    scheduler = Scheduler(0, requests, np.zeros(batch), limits, policy, cost, 1.0, log)
    parameter = next(target.parameters())
    pair = ModelPair(target=target, draft=draft if policy.uses_draft else None, tokenizer=None,
                     device=torch.device(device), dtype=parameter.dtype, names=("target", "draft"))
    vocab = int(target.config.vocab_size)
    prompts = torch.randint(0, vocab, (batch, PROMPT_TOKENS)).tolist()
    clock = Clock(pair.device)
    replica = RealReplica(pair, scheduler, policy, prompts, PROMPT_TOKENS + output_tokens + lookahead + 1,
                          sampling=False, seed=0, clock=clock)
    replica.warm_up()
    clock.origin = time.perf_counter()
    replica.run(requests.arrival_s, seconds)
    steps = log.steps_table()
    decode = steps[(steps["prefill_s"] == 0) & (steps["batch_size"] == batch)]
    if decode.empty:
        raise RuntimeError(f"no decode step of batch {batch} ran in {seconds:g} s")
    other = decode["step_s"] - decode["draft_s"] - decode["verify_s"]
    return float(np.median(other))
