"""Request state inside one replica: a small object while queued or prefilling, a row of the
struct-of-arrays `DecodeBatch` while decoding (so policies see numpy arrays, not objects)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from specsim.policy.base import MEMORY_SLOTS


@dataclass(slots=True)
class RequestState:
    """A request that is waiting, prefilling, or was preempted (its progress is kept)."""

    index: int  # position in the run's Requests
    prompt_tokens: int
    output_tokens: int
    arrival_s: float
    category: int
    slo_ttft_s: float
    slo_tpot_s: float
    latent: float  # the simulator's per-request acceptance latent; unused by the real engine
    generated: int = 0
    first_token_s: float = math.nan
    prefilled: int = 0  # tokens of the current prefill done (chunked prefill)
    steps: int = 0
    drafted: int = 0
    verified: int = 0
    accepted: int = 0
    rejections: int = 0  # steps whose verification rejected a draft token (accepted < verified)
    last_verified: int = -1
    last_accepted: int = -1
    preemptions: int = 0
    admitted_seq: int = -1
    prefix: int = -1  # the prompt's node in the workload's prefix tree; -1: nothing shared
    cached_prompt_tokens: int = 0  # prompt tokens its last admission found in the prefix cache
    shared_tokens: int = 0  # of its KV, the tokens the prefix cache holds (not its own)
    pinned_node: int = -1  # the cached chain it holds on to, up to this node
    memory: np.ndarray = field(default_factory=lambda: np.full(MEMORY_SLOTS, np.nan))

    @property
    def prefill_tokens(self) -> int:
        """What a prefill must process: the prompt, plus what was generated before a preemption
        (recomputation, as vLLM does)."""
        return self.prompt_tokens + self.generated

    @property
    def context_tokens(self) -> int:
        return self.prompt_tokens + self.generated

    @property
    def own_kv_tokens(self) -> int:
        """KV it holds alone once decoding: its context, less what the prefix cache shares."""
        return self.prompt_tokens + self.generated - self.shared_tokens


_INT_FIELDS = ("index", "prompt_tokens", "output_tokens", "category", "generated", "steps", "drafted",
               "verified", "accepted", "rejections", "last_verified", "last_accepted", "preemptions",
               "admitted_seq", "prefix", "cached_prompt_tokens", "shared_tokens", "pinned_node")
_FLOAT_FIELDS = ("arrival_s", "first_token_s", "slo_ttft_s", "slo_tpot_s", "latent")


class DecodeBatch:
    """Decoding requests as columns [0:size]. A leaving request is replaced by the last row, so
    rows stay dense; callers that keep per-row data elsewhere (the real engine's KV caches) key
    it by `index`, not by row."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        for name in _INT_FIELDS:
            setattr(self, name, np.zeros(capacity, dtype=np.int64))
        for name in _FLOAT_FIELDS:
            setattr(self, name, np.zeros(capacity, dtype=np.float64))
        self.context_tokens = np.zeros(capacity, dtype=np.int64)
        self.memory = np.full((capacity, MEMORY_SLOTS), np.nan)
        # called as on_add(row) after a row is filled and on_move(source, target) when take()
        # moves the last row into a hole: for per-row data kept elsewhere (the simulator's
        # pre-sampled acceptance)
        self.on_add: list[Callable[[int], None]] = []
        self.on_move: list[Callable[[int, int], None]] = []

    # declared for type checkers; created in __init__
    index: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    category: np.ndarray
    generated: np.ndarray
    steps: np.ndarray
    drafted: np.ndarray
    verified: np.ndarray
    accepted: np.ndarray
    rejections: np.ndarray
    last_verified: np.ndarray
    last_accepted: np.ndarray
    preemptions: np.ndarray
    admitted_seq: np.ndarray
    prefix: np.ndarray
    cached_prompt_tokens: np.ndarray
    shared_tokens: np.ndarray
    pinned_node: np.ndarray
    arrival_s: np.ndarray
    first_token_s: np.ndarray
    slo_ttft_s: np.ndarray
    slo_tpot_s: np.ndarray
    latent: np.ndarray

    def add(self, request: RequestState) -> None:
        row = self.size
        if row >= self.capacity:
            raise RuntimeError("decode batch is full; admission should have prevented this")
        for name in _INT_FIELDS:
            getattr(self, name)[row] = getattr(request, name)
        for name in _FLOAT_FIELDS:
            getattr(self, name)[row] = getattr(request, name)
        self.context_tokens[row] = request.context_tokens
        self.memory[row] = request.memory
        self.size += 1
        for listener in self.on_add:
            listener(row)

    def _columns(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in (*_INT_FIELDS, *_FLOAT_FIELDS, "context_tokens", "memory")]

    def take(self, row: int) -> RequestState:
        """Remove a row and return it as a RequestState (for preemption or finishing)."""
        request = RequestState(
            **{name: int(getattr(self, name)[row]) for name in _INT_FIELDS},
            **{name: float(getattr(self, name)[row]) for name in _FLOAT_FIELDS},
            memory=self.memory[row].copy(),
        )
        last = self.size - 1
        if row != last:
            for column in self._columns():
                column[row] = column[last]
            for listener in self.on_move:
                listener(last, row)
        self.size = last
        return request
