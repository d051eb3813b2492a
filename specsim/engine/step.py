"""What passes between the scheduler and an engine in one step: the plan (who decodes with which
k, which prompt chunks are prefilled), the speculation's outcome, and the step's times."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from specsim.engine.batch import RequestState
from specsim.policy.base import BatchView, DraftTree


@dataclass(slots=True)
class StepPlan:
    start_s: float
    view: BatchView | None  # None: no request is decoding (a prefill-only step)
    draft_lengths: np.ndarray  # planned k per decoding request, after the engine's caps
    prefill: list[tuple[RequestState, int]]  # (request, tokens of its prompt processed this step)
    prefill_tokens: int
    # Σ, max and min of draft_lengths when the scheduler planned them (-1: not known); they spare
    # the engine's hot loop a few numpy reductions per step
    draft_total: int = -1
    longest: int = -1
    shortest: int = -1
    # the prefill as the step's price needs it: (tokens, tokens of the prompt already cached) each
    chunks: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class SpeculationResult:
    drafted: np.ndarray  # int64 [B]
    verified: np.ndarray
    accepted: np.ndarray  # accepted prefix; each request also gets one more token
    confidences: np.ndarray  # [B, K], NaN past drafted (trees: each node's draft probability)
    tree: DraftTree | None = None  # a tree policy's drafts; drafted/verified then count nodes


@dataclass(slots=True)
class StepTimes:
    draft_s: float
    verify_s: float
    prefill_s: float
    step_s: float
