"""What a run records, and the contract-3 tables built from it (DESIGN.md).

Both engines write through `RunLog`, so sim and real tables have the same columns and the same
definitions. Columns beyond the contract's list, kept because validation needs them:
`steps.prefill_s` (step_s = draft_s + verify_s + prefill_s + the engine's overhead),
`steps.speculating` (requests with k > 0 in the step: the denominator of the mean accepted
length), and `requests.rejected_steps` (the request's steps whose verification rejected a draft
token: with `accepted_tokens` it gives the request's per-token acceptance, which `specsim
validate` replays in the simulator), and `requests.cached_prompt_tokens` (prompt tokens its last
admission found in the prefix cache and did not compute; `steps.prefill_tokens` counts only the
computed ones).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from specsim.engine.batch import RequestState
from specsim.workload.requests import Requests

REQUEST_COLUMNS = (
    "request_id", "category", "arrival_s", "first_token_s", "finish_s", "prompt_tokens", "output_tokens",
    "ttft_s", "tpot_s", "e2e_s", "slo_ttft_s", "slo_tpot_s", "slo_met", "replica", "steps",
    "drafted_tokens", "verified_tokens", "accepted_tokens", "rejected_steps", "cached_prompt_tokens",
)
STEP_COLUMNS = (
    "t_s", "replica", "batch_size", "prefill_tokens", "drafted", "verified", "accepted", "k_mean", "k_max",
    "draft_s", "verify_s", "step_s", "policy", "prefill_s", "speculating",
)

# add_step's argument order; every value is held as float64 (the counts are exact far beyond 2⁵³)
ROW_COLUMNS = ("t_s", "replica", "batch_size", "prefill_tokens", "drafted", "verified", "accepted", "k_mean",
               "k_max", "draft_s", "verify_s", "step_s", "prefill_s", "speculating")
FLOAT_STEP_COLUMNS = ("t_s", "k_mean", "draft_s", "verify_s", "step_s", "prefill_s")


class RunLog:
    """Per-request results (by request index) and one row per engine step."""

    def __init__(self, requests: Requests, policy_label: str) -> None:
        count = len(requests)
        self.requests = requests
        self.policy_label = policy_label
        self.replica = np.full(count, -1, dtype=np.int64)
        self.first_token_s = np.full(count, np.nan)
        self.finish_s = np.full(count, np.nan)
        self.steps = np.zeros(count, dtype=np.int64)
        self.drafted = np.zeros(count, dtype=np.int64)
        self.verified = np.zeros(count, dtype=np.int64)
        self.accepted = np.zeros(count, dtype=np.int64)
        self.rejections = np.zeros(count, dtype=np.int64)
        self.preemptions = np.zeros(count, dtype=np.int64)
        self.cached_prompt_tokens = np.zeros(count, dtype=np.int64)
        # the steps table's values row after row, flat: an hour's million steps as Python tuples
        # took several times the memory and most of the time building the table
        self._step_values = array("d")
        self.finished = 0
        self.finished_work_tokens: dict[int, int] = {}  # per replica: prompt + output of finished
        self.on_all_finished: Callable[[], None] | None = None

    def add_step(self, t_s: float, replica: int, batch_size: int, prefill_tokens: int, drafted: int,
                 verified: int, accepted: int, k_mean: float, k_max: int, draft_s: float, verify_s: float,
                 prefill_s: float, step_s: float, speculating: int) -> None:
        self._step_values.extend((t_s, replica, batch_size, prefill_tokens, drafted, verified, accepted,
                                  k_mean, k_max, draft_s, verify_s, step_s, prefill_s, speculating))

    def add_steps(self, rows: Iterable[tuple[float | int, ...]]) -> None:
        """Several steps' rows at once, each in `add_step`'s argument order."""
        extend = self._step_values.extend
        for row in rows:
            extend(row)

    def recent_steps(self, count: int) -> np.ndarray:
        """The last `count` steps' rows, [rows, 14] in `add_step`'s argument order."""
        return self._step_matrix()[-count:].copy()

    def _step_matrix(self) -> np.ndarray:
        """Every step's row so far, [steps, 14], a view of the flat values."""
        return np.frombuffer(self._step_values, dtype=np.float64).reshape(-1, len(ROW_COLUMNS))

    def record(self, request: RequestState, replica: int, finish_s: float = math.nan) -> None:
        """Store a request's progress; with `finish_s` it counts as finished."""
        index = request.index
        self.replica[index] = replica
        self.first_token_s[index] = request.first_token_s
        self.finish_s[index] = finish_s
        self.steps[index] = request.steps
        self.drafted[index] = request.drafted
        self.verified[index] = request.verified
        self.accepted[index] = request.accepted
        self.rejections[index] = request.rejections
        self.preemptions[index] = request.preemptions
        self.cached_prompt_tokens[index] = request.cached_prompt_tokens
        if not math.isnan(finish_s):
            self.finished += 1
            work = request.prompt_tokens + request.output_tokens
            self.finished_work_tokens[replica] = self.finished_work_tokens.get(replica, 0) + work
            if self.finished == len(self.requests) and self.on_all_finished is not None:
                self.on_all_finished()

    def finish(self, request: RequestState, replica: int, finish_s: float) -> None:
        self.record(request, replica, finish_s)

    # -- tables ----------------------------------------------------------------------------------
    def requests_table(self) -> pd.DataFrame:
        requests = self.requests
        assert requests.slo_ttft_s is not None and requests.slo_tpot_s is not None
        output = requests.output_tokens
        ttft = self.first_token_s - requests.arrival_s
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = np.where(output > 1, (self.finish_s - self.first_token_s) / (output - 1), np.nan)
        finished = ~np.isnan(self.finish_s)
        # TPOT is undefined for one-token outputs: only their TTFT is judged
        tpot_ok = (output <= 1) | (tpot <= requests.slo_tpot_s)
        slo_met = finished & (ttft <= requests.slo_ttft_s) & tpot_ok
        table = pd.DataFrame({
            "request_id": np.arange(len(requests), dtype=np.int64),
            "category": requests.category_names(),
            "arrival_s": requests.arrival_s,
            "first_token_s": self.first_token_s,
            "finish_s": self.finish_s,
            "prompt_tokens": requests.prompt_tokens,
            "output_tokens": output,
            "ttft_s": ttft,
            "tpot_s": tpot,
            "e2e_s": self.finish_s - requests.arrival_s,
            "slo_ttft_s": requests.slo_ttft_s,
            "slo_tpot_s": requests.slo_tpot_s,
            "slo_met": slo_met,
            "replica": self.replica,
            "steps": self.steps,
            "drafted_tokens": self.drafted,
            "verified_tokens": self.verified,
            "accepted_tokens": self.accepted,
            "rejected_steps": self.rejections,
            "cached_prompt_tokens": self.cached_prompt_tokens,
        })
        return table

    def steps_table(self) -> pd.DataFrame:
        values = self._step_matrix()
        # by start time, replicas in order at the same instant; steps of one replica keep theirs
        order = np.lexsort((values[:, 1], values[:, 0]))
        columns: dict[str, object] = {}
        for name in STEP_COLUMNS:
            if name == "policy":
                columns[name] = np.full(len(order), self.policy_label, dtype=object)
                continue
            column = values[order, ROW_COLUMNS.index(name)]
            columns[name] = column if name in FLOAT_STEP_COLUMNS else column.astype(np.int64)
        return pd.DataFrame(columns)
