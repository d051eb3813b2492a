"""What calibrate measures by serving on the real engine (`realrun.engine.RealReplica`) for a
moment, on the pair being calibrated, read from the engine's own steps table:

- the host time per step outside the backend calls and prefill — admission, the scheduler's plan
  and bookkeeping, the policy's decision, the speculation protocol's glue, KV slot moves:
  step − draft − verify − prefill, over decode steps of a full batch; for fixed k and plain
  decoding (the profile's generic overheads), and for each policy calibrate is asked to serve
  (its own decisions included);
- how much steps of one shape vary from step to step (`step_time_spread`), and how the slow ones
  come in spells (`step_time_persistence`), from the same decode steps as the generic overheads;
- how much slower the step that wakes an idle engine runs: groups of requests arrive after the
  engine has slept; the prefill that wakes it is compared with the prefills of the same group,
  which find it warm.

Why the engine itself and not a model of it: host time is whatever the engine's Python makes it
(0.2 ms per plain step and 0.4-0.6 ms per fixed-k step of the tiny pair on the 2-core CPU:
`benchmarks/host_time.py`), and the
wake-up is a state of the machine that a look-alike loop did not reproduce — a one-prompt prefill
after 0.5 s of sleep measured ×1.05-1.10 while the engine's prefills after idle waits took
×1.19-1.37 the warm time in the same sessions (VALIDATION.md history, runs 10-12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from realrun.clock import Clock
from realrun.engine import RealReplica
from realrun.models import ModelPair
from specsim.engine.records import RunLog
from specsim.engine.scheduler import BatchLimits, Scheduler
from specsim.policy import make_policy
from specsim.policy.base import Policy
from specsim.policy.cost import CostEstimator
from specsim.profile.latency import LatencyModel
from specsim.profile.synthetic import linear_profile
from specsim.workload.requests import Requests

PROMPT_TOKENS = 16
RUN_S = 1.0  # of serving per overhead measurement: ~50 decode steps of the tiny pair on the CPU
WAKE_PROMPT_TOKENS = 32
SPREAD_QUANTILES = 20
MAX_PERSISTENCE = 0.95  # a block of slow steps lasts 20 steps on average at most
WAKE_SAMPLES = 9
WAKE_GROUP = 3  # requests arriving together: the first wakes the engine, the others find it warm
IDLE_S = 0.5  # the sleep before each wake-up sample: the order of validate-cpu's light-load gaps


def decode_steps(target, draft, policy: Policy, batch: int, seconds: float, device: str,
                 max_positions: int, latency: LatencyModel | None = None,
                 clock: Clock | None = None) -> pd.DataFrame:
    """The engine's decode steps (no prefill in them) of `batch` requests served by `policy` for
    about `seconds`. Requests all arrive at once and are long enough not to finish (within
    `max_positions`). `latency`: the policy's cost model (default: a synthetic one — fixed-k and
    plain steps never ask it; an adaptive policy steers its k by it). `clock`: the engine's
    (default: the device's wall clock)."""
    output_tokens = max(2, min(512, max_positions - PROMPT_TOKENS - policy.max_draft_tokens - 2))
    steps = serve_briefly(target, draft, policy, np.zeros(batch), PROMPT_TOKENS, output_tokens, batch,
                          seconds, device, latency, clock)
    decode = steps[(steps["prefill_s"] == 0) & (steps["batch_size"] == batch)]
    if decode.empty:
        raise RuntimeError(f"no decode step of batch {batch} ran in {seconds:g} s")
    return decode


def host_overhead_s(decode: pd.DataFrame) -> float:
    """Median host time per step outside the backend calls."""
    return float(np.median(decode["step_s"] - decode["draft_s"] - decode["verify_s"]))


def measure_step_overhead(target, draft, policy: Policy, batch: int, seconds: float, device: str,
                          max_positions: int, latency: LatencyModel | None = None,
                          clock: Clock | None = None) -> float:
    """`host_overhead_s` of `decode_steps`."""
    steps = decode_steps(target, draft, policy, batch, seconds, device, max_positions, latency, clock)
    return host_overhead_s(steps)


def step_time_spread(runs: list[pd.DataFrame], quantiles: int = SPREAD_QUANTILES) -> list[float]:
    """Quantiles, at probabilities (i + 0.5)/quantiles, of each step's time over its run's median
    (`run_factors`) — runs of steps of one shape (a fixed k or plain decoding at one batch size),
    so what varies is the machine, not the work. Empty when the runs hold fewer than
    2 × quantiles steps."""
    pooled = np.concatenate([run_factors(run) for run in runs])
    if len(pooled) < 2 * quantiles:
        return []
    return np.quantile(pooled, (np.arange(quantiles) + 0.5) / quantiles).tolist()


def run_factors(run: pd.DataFrame) -> np.ndarray:
    """Each step's time over its run's median, in step order.

    Over the run's median, not a local one: the slow spells of a second of serving are the
    spread's memory (`step_time_persistence`), which a median of the few steps around each step
    would take out (read against 9 steps, the factors' lag-1 autocorrelation fell from 0.75-0.84
    to 0.2-0.55 and went negative past lag 2, `benchmarks/step_memory.py`). The price: a speed
    change within the run reads as spread (run 19 of VALIDATION.md history)."""
    steps_s = run["step_s"].to_numpy()
    return steps_s / np.median(steps_s)


def local_factors(run: pd.DataFrame, window: int) -> np.ndarray:
    """Each step's time over the median of the `window` steps around it, in step order: how
    calibrate read the spread in run 20 (window 9), before the persistence; the benchmarks print
    it beside `run_factors` to show what a local median takes out."""
    steps_s = run["step_s"].reset_index(drop=True)
    return (steps_s / steps_s.rolling(window, center=True, min_periods=1).median()).to_numpy()


def step_time_persistence(runs: list[pd.DataFrame]) -> float:
    """The lag-1 autocorrelation of `run_factors`, pooled over the runs (each centred on its own
    mean), within [0, MAX_PERSISTENCE]; 0 when the runs hold fewer than 2 × SPREAD_QUANTILES
    steps. Under the simulator's sticky draws (sim/step_jitter.py) the lag-1 autocorrelation is
    the persistence itself."""
    products, squares = 0.0, 0.0
    for run in runs:
        factors = run_factors(run)
        if len(factors) < 3:
            continue
        centred = factors - factors.mean()
        products += float(np.dot(centred[:-1], centred[1:]))
        squares += float(np.dot(centred, centred))
    if squares <= 0.0 or sum(len(run) for run in runs) < 2 * SPREAD_QUANTILES:
        return 0.0
    return min(MAX_PERSISTENCE, max(0.0, products / squares))


def measure_policy_overheads(target, draft, policy_specs: list[str], batch: int, device: str,
                             max_positions: int, latency: LatencyModel) -> dict[str, float]:
    """`measure_step_overhead` for each named policy that can run on the real engine, keyed by
    its label, each served for RUN_S with `latency` as its cost model: a policy's own decisions
    (adaptive's per-step candidate search: ~1 ms against ~0.4 ms for fixed k on the tiny pair,
    VALIDATION.md) are host time the generic overhead does not hold."""
    overheads: dict[str, float] = {}
    for spec in policy_specs:
        policy = make_policy(spec)
        if policy.simulator_only or policy.label() in overheads:
            continue
        overheads[policy.label()] = measure_step_overhead(target, draft, policy, batch, RUN_S, device,
                                                          max_positions, latency)
    return overheads


@dataclass(frozen=True)
class IdleWake:
    """What the engine does after an idle wait, and with a step that only prefills."""

    factor: float  # the woken prefill's time over a warm one's, − 1, at least 0; NaN: unmeasured
    # the woken step's time outside its forwards beyond a warm prefill step's host time, from the
    # arrival that woke the engine (median); NaN: unmeasured
    delay_s: float
    prefill_step_overhead_s: float  # a warm prefill-only step's host time outside its forwards (median)


def measure_idle_wake(target, draft, policy: Policy, prefill_estimate_s: float, device: str,
                      samples: int = WAKE_SAMPLES, idle_s: float = IDLE_S,
                      clock: Clock | None = None) -> IdleWake:
    """The factor the simulator slows the first step after idle by — median(prefill that wakes
    the engine after an idle wait) / median(prefill of an engine that was busy right before) − 1 —,
    what that step costs outside its forwards beyond a warm one, and the host time of a warm step
    that only prefills.

    Both kinds of prefill come from the same few seconds of serving, so a slow or fast spell of the
    machine is in both: `samples` groups of WAKE_GROUP requests arrive together, one request at a
    time is served (a prefill and two decode steps); the group's first prefill follows a sleep of
    about `idle_s`, the others follow the previous request's last step. (Against the prefill grid
    instead, calibrations on 2026-12-01 read ×1.29 and ×1.38 while the real runs minutes later
    prefilled at ×0.74-0.97 of the simulator's price: a spell at the moment of the wake-up run
    counted as wake-up. `benchmarks/wake_and_spread.py` prints both readings.)
    Outside the forwards, on the 2-core CPU (tiny pair, 2026-12-07): the woken step started
    0.13-0.20 ms after the arrival the engine slept until, and its host work took 0.19-0.29 ms
    against 0.04 ms for a warm prefill step — about 0.35 ms that the simulator, starting the step
    at once at a warm step's host time, left out of every TTFT at light load.
    `prefill_estimate_s`: about one prefill of WAKE_PROMPT_TOKENS, to space the groups so that
    each sleep lasts about `idle_s` even when the wake-up doubles a prefill."""
    output_tokens = 3
    # a group's prefills and decode steps, with margin: a group that overran the next one's arrival
    # would leave no idle wait to sample (on a slow machine a k=4 step costs about a 32-token prefill)
    busy_s = WAKE_GROUP * 6 * prefill_estimate_s
    groups_s = np.arange(samples + 1) * (idle_s + busy_s)
    arrival_s = np.repeat(groups_s, WAKE_GROUP)
    steps = serve_briefly(target, draft, policy, arrival_s, WAKE_PROMPT_TOKENS, output_tokens, 1,
                          groups_s[-1] + 60.0, device, clock=clock)
    start_s = steps["t_s"].to_numpy()
    ends = start_s + steps["step_s"].to_numpy()
    gap_s = np.concatenate([[np.nan], start_s[1:] - ends[:-1]])  # the first: neither
    prefills = (steps["batch_size"] == 0).to_numpy() & (steps["prefill_tokens"] > 0).to_numpy()
    woken, warm = prefills & (gap_s > 0.5 * idle_s), prefills & (gap_s < 0.05 * idle_s)
    prefill_s = steps["prefill_s"].to_numpy()
    host_s = steps["step_s"].to_numpy() - prefill_s - (steps["draft_s"] + steps["verify_s"]).to_numpy()
    if not woken.any() or not warm.any():
        any_host_s = float(np.median(host_s[prefills])) if prefills.any() else math.nan
        return IdleWake(math.nan, math.nan, any_host_s)
    warm_host_s = float(np.median(host_s[warm]))
    # each woken step answers the latest group arrival before it
    waking_arrival_s = groups_s[np.searchsorted(groups_s, start_s[woken], side="right") - 1]
    late_s = start_s[woken] - waking_arrival_s + host_s[woken] - warm_host_s
    return IdleWake(max(0.0, float(np.median(prefill_s[woken]) / np.median(prefill_s[warm])) - 1.0),
                    max(0.0, float(np.median(late_s))), warm_host_s)


def serve_briefly(target, draft, policy: Policy, arrival_s: np.ndarray, prompt_tokens: int,
                  output_tokens: int, max_batch: int, seconds: float, device: str,
                  latency: LatencyModel | None = None, clock: Clock | None = None) -> pd.DataFrame:
    """Serve requests of random prompt ids with `policy` until they finish or `seconds` pass;
    the engine's steps table."""
    count = len(arrival_s)
    lookahead = policy.max_draft_tokens + 1
    requests = Requests(
        arrival_s=np.asarray(arrival_s, dtype=np.float64),
        prompt_tokens=np.full(count, prompt_tokens, dtype=np.int64),
        output_tokens=np.full(count, output_tokens, dtype=np.int64), category=np.zeros(count, dtype=np.int64),
        categories=("any",),
    ).with_slos(np.full(count, 1.0), np.full(count, 0.1))
    slot_tokens = prompt_tokens + output_tokens + lookahead
    limits = BatchLimits(max_batch_size=max_batch, max_batch_tokens=max_batch * max(prompt_tokens, lookahead),
                         kv_capacity_tokens=max_batch * slot_tokens)
    # the policy's cost estimates need a latency model; fixed-k and plain steps never ask it
    if latency is None:
        latency = LatencyModel(linear_profile(draft_step_s=1e-3, verify_base_s=1e-2).latency)
    cost = CostEstimator(latency, policy.uses_draft)
    log = RunLog(requests, policy.label())
    scheduler = Scheduler(0, requests, np.zeros(count), limits, policy, cost, 1.0, log)
    parameter = next(target.parameters())
    pair = ModelPair(target=target, draft=draft if policy.uses_draft else None, tokenizer=None,
                     device=torch.device(device), dtype=parameter.dtype, names=("target", "draft"))
    prompts = torch.randint(0, int(target.config.vocab_size), (count, prompt_tokens)).tolist()
    clock = clock or Clock(pair.device)
    replica = RealReplica(pair, scheduler, policy, prompts, slot_tokens + 1, sampling=False, seed=0,
                          clock=clock)
    replica.warm_up()
    clock.restart()
    replica.run(requests.arrival_s, seconds)
    return log.steps_table()
