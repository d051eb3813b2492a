"""The Profile document (DESIGN.md contract 2): what calibration measured, as validated JSON.

Every latency section keeps the raw measured grid *and* the fitted model the simulator falls
back to outside the grid. Every acceptance curve says where it came from. Grids are stored as
nested lists in the axis order their field names give, e.g. `time_s[batch][tokens][context]`.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from specsim.profile.schema_engine import Engine

# 2 added the `engine` section (schema_engine.py); a version-1 document still loads and means
# what it always did: a separate-forward engine with no fixed costs beyond its grids. 3 added
# tensor parallelism to the roofline (`tensor_parallel`, `allreduce_s_per_token`); a version-2
# document means one GPU. 4 added per-rank acceptance for token trees (`CategoryAcceptance.ranks`);
# a document without it serves sequences only, and trees are refused by name.
SCHEMA_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)

# Features the latency fits may use; each is computed from one query (batch size B, tokens per
# request q, mean context c): tokens = B·q, batch_x_context = B·c, tokens_x_context = B·q·c.
FIT_FEATURES = ("constant", "batch", "tokens", "batch_x_context", "tokens_x_context")


class Strict(BaseModel):
    # allow_inf_nan=False: a NaN anywhere is refused at its own field path (time_s.0.3.1)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _require_increasing(values: list[int], field: str) -> None:
    if not values:
        raise ValueError("must not be empty")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"must be strictly increasing, got {values}")


def _require_non_negative(grid: Any, path: str = "time_s") -> None:
    """A time a forward takes is ≥ 0 (a negative one would move the simulator's clock back)."""
    if isinstance(grid, list):
        for index, row in enumerate(grid):
            _require_non_negative(row, f"{path}[{index}]")
    elif grid < 0:
        raise ValueError(f"{path} must be ≥ 0 seconds, got {grid}")


def _require_shape(grid: Any, shape: tuple[int, ...], path: str = "time_s") -> None:
    if not shape:
        return
    if not isinstance(grid, list) or len(grid) != shape[0]:
        found = len(grid) if isinstance(grid, list) else type(grid).__name__
        raise ValueError(f"{path} must have {shape[0]} entries along this axis, found {found}")
    for index, row in enumerate(grid):
        _require_shape(row, shape[1:], f"{path}[{index}]")


class Hardware(Strict):
    label: str = Field(description="the --gpu label the profile is for: h100, a100, cpu, ...")
    device_name: str = Field(description="the device name torch reported (or the datasheet's)")
    torch_version: str | None = None
    transformers_version: str | None = None
    cuda_version: str | None = None
    date: str


class ModelInfo(Strict):
    name: str
    architecture: dict[str, Any]
    parameters: int = Field(gt=0)
    dtype: str
    weights: Literal["real", "random"]


class LatencyFit(Strict):
    """time_s ≈ Σ coefficient·feature (non-negative coefficients, so never cheaper for more work)."""

    features: list[str]
    coefficients: list[float]
    holdout_rel_error_median: float = Field(ge=0)
    holdout_rel_error_max: float = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> LatencyFit:
        unknown = [name for name in self.features if name not in FIT_FEATURES]
        if unknown:
            raise ValueError(f"unknown fit features {unknown}; allowed: {list(FIT_FEATURES)}")
        if len(self.features) != len(self.coefficients):
            raise ValueError("features and coefficients must have the same length")
        return self


class DraftStepGrid(Strict):
    """One draft-model forward of one token per request, against a KV cache of `context`. Where
    the profile has `draft_first_pass`, this is a pass after a step's first (pass 2..k)."""

    batch_sizes: list[int]
    context_tokens: list[int]
    time_s: list[list[float]]
    fit: LatencyFit

    @model_validator(mode="after")
    def _check(self) -> DraftStepGrid:
        _require_increasing(self.batch_sizes, "batch_sizes")
        _require_increasing(self.context_tokens, "context_tokens")
        _require_shape(self.time_s, (len(self.batch_sizes), len(self.context_tokens)))
        _require_non_negative(self.time_s)
        return self


class VerifyGrid(Strict):
    """One target forward of `tokens_per_request` (= k+1) tokens per request, against a KV
    cache of `context` tokens: exactly the engine's verify pass. tokens_per_request = 1 is
    plain decoding."""

    batch_sizes: list[int]
    tokens_per_request: list[int]
    context_tokens: list[int]
    time_s: list[list[list[float]]]
    fit: LatencyFit

    @model_validator(mode="after")
    def _check(self) -> VerifyGrid:
        _require_increasing(self.batch_sizes, "batch_sizes")
        _require_increasing(self.tokens_per_request, "tokens_per_request")
        _require_increasing(self.context_tokens, "context_tokens")
        if self.tokens_per_request[0] != 1:
            raise ValueError("tokens_per_request must start at 1 (plain decoding)")
        shape = (len(self.batch_sizes), len(self.tokens_per_request), len(self.context_tokens))
        _require_shape(self.time_s, shape)
        _require_non_negative(self.time_s)
        return self


class DraftFirstPassGrid(VerifyGrid):
    """The first draft pass of a step, right after the previous step's verify pass (where a CPU's
    caches last held the target), feeding `tokens_per_request` tokens per request: what the draft
    cache lacks — 1 (the last token), 2 after a step that accepted all its drafts (the last draft
    was never fed), one more for each step the request did not draft."""


class PrefillGrid(Strict):
    """One forward over `prompt_tokens` new tokens for each of `batch` requests (empty cache)."""

    batch_sizes: list[int]
    prompt_tokens: list[int]
    time_s: list[list[float]]
    fit: LatencyFit

    @model_validator(mode="after")
    def _check(self) -> PrefillGrid:
        _require_increasing(self.batch_sizes, "batch_sizes")
        _require_increasing(self.prompt_tokens, "prompt_tokens")
        _require_shape(self.time_s, (len(self.batch_sizes), len(self.prompt_tokens)))
        _require_non_negative(self.time_s)
        return self


class Latency(Strict):
    source: Literal["measured", "roofline"]
    timer: str = Field(description="how times were taken: cuda-events, perf_counter, roofline")
    repeats: int = Field(ge=0, description="timed repeats per grid point (median kept)")
    draft_step: DraftStepGrid
    verify: VerifyGrid
    prefill_target: PrefillGrid
    prefill_draft: PrefillGrid
    draft_first_pass: DraftFirstPassGrid | None = Field(
        default=None,
        description="the first draft pass of a step, by tokens fed per request; None: it costs as "
        "draft_step (one token), and draft_step covers every pass",
    )
    step_overhead_s: float = Field(
        ge=0, description="engine time per step outside model forwards (scheduling, sampling)"
    )
    plain_step_overhead_s: float | None = Field(
        default=None, ge=0,
        description="the same for a step in which no request drafts (plain decoding, and prefill only "
        "where prefill_step_overhead_s is None): the engine skips the speculation protocol's host work; "
        "None: step_overhead_s",
    )
    prefill_step_overhead_s: float | None = Field(
        default=None, ge=0,
        description="the engine's host time for a step that only prefills (no decode rows): admitting "
        "the requests, giving them slots; None: plain_step_overhead_s",
    )
    policy_step_overhead_s: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="by policy label: the engine's host time per decode step while serving that policy "
        "(its own decisions included), where calibrate measured it; charged to that policy's steps "
        "with decode rows in place of step_overhead_s / plain_step_overhead_s",
    )
    idle_wake_factor: float = Field(
        default=0.0, ge=0,
        description="the first step after the engine sat idle (no request to serve) runs its forwards "
        "(1 + this) times slower: caches and clocks went cold; 0 where not measured",
    )
    idle_wake_s: float = Field(
        default=0.0, ge=0,
        description="what the first step after the engine sat idle costs outside its forwards beyond a "
        "warm step's host time: from the arrival that wakes it to that step's start (its sleep's "
        "overshoot), and its slower host work; 0 where not measured",
    )
    step_time_spread: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=list,
        description="the engine's step-to-step jitter: quantiles, at equally spaced probabilities "
        "(i + 0.5)/n, of a step's time over the median of a run of steps of its shape, "
        "ascending; the simulator scales each step by a draw from them; empty: every step takes its "
        "predicted time",
    )
    grid_walk_spread: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="the calibration's own resolution, by grid kind (decode, prefill): how far apart its "
        "walks over the grid put a point — largest minus smallest walk median over the point's "
        "median — at the median point; empty where the grids were walked once or not measured",
    )
    step_time_persistence: float = Field(
        default=0.0, ge=0, lt=1,
        description="how the jitter sticks: each step keeps the previous step's factor with this "
        "probability, else draws afresh from step_time_spread (lag-1 autocorrelation of the factors; "
        "slow spells last 1/(1 - this) steps on average); 0: independent draws",
    )

    @model_validator(mode="after")
    def _spread_is_quantiles(self) -> Latency:
        spread = self.step_time_spread
        if len(spread) == 1:
            raise ValueError("step_time_spread: give at least two quantiles, or none")
        if any(later < earlier for earlier, later in itertools.pairwise(spread)):
            raise ValueError("step_time_spread: quantiles must be in ascending order")
        return self


class Memory(Strict):
    device_memory_bytes: int | None = Field(default=None, ge=0)
    target_weight_bytes: int = Field(ge=0)
    draft_weight_bytes: int = Field(ge=0)
    target_kv_bytes_per_token: int = Field(gt=0)
    draft_kv_bytes_per_token: int = Field(gt=0)
    kv_capacity_tokens: int | None = Field(
        default=None, ge=0, description="tokens of KV cache (target + draft) that fit beside the weights"
    )
    max_batch_by_context: dict[str, int] = Field(
        default_factory=dict, description="context length (as a string key) -> largest batch that fits"
    )


class RankAcceptance(Strict):
    """What a token tree needs beyond the sequence curve: the draft's 2nd, 3rd, … candidates.

    At a tree node whose top candidate has draft probability q₁, the r-th candidate (r ≥ 2) has
    probability q_r = `probability_share[r−2]`·(1 − q₁), and the target's greedy choice is that
    candidate with `match_given_probability[r−2]` of q_r's bin (the category's confidence bins).
    Rank 1 is the sequence curve (`accept_given_confidence`). The events are exclusive — the
    target picks one token — so where a node's chances sum past 1 they are scaled down to 1.
    """

    probability_share: list[float] = Field(description="[r-2]: mean q_r / (1 − q₁), r = 2..")
    match_given_probability: list[list[float]] = Field(
        description="[r-2][bin]: P(the target's choice is the r-th candidate | q_r in bin)")
    match_samples_by_bin: list[list[int]] = Field(description="[r-2][bin]: tokens behind each estimate")

    @model_validator(mode="after")
    def _check(self) -> RankAcceptance:
        ranks = len(self.probability_share)
        if ranks < 1:
            raise ValueError("probability_share must hold at least rank 2")
        shares = self.probability_share
        if any(not 0.0 <= share <= 1.0 for share in shares) or sum(shares) > 1 + 1e-9:
            raise ValueError("probability_share must be shares in [0, 1] summing to at most 1")
        for name in ("match_given_probability", "match_samples_by_bin"):
            if len(getattr(self, name)) != ranks:
                raise ValueError(f"{name} must have one row per rank in probability_share ({ranks})")
        if any(not 0.0 <= p <= 1.0 for row in self.match_given_probability for p in row):
            raise ValueError("match_given_probability must lie in [0, 1]")
        return self


class CategoryAcceptance(Strict):
    """Acceptance of one workload category, enough to sample correlated confidences.

    Sampling model (used by the simulator): each request draws a latent z ~ N(0, 1); the
    confidence of its draft token at position j is the quantile
    Φ(√λ·z + √(1−λ)·ε) of `confidence_hist_by_position[j]`, ε ~ N(0, 1) per token, with
    λ = `request_share` (the share of the variance of the confidences' normal scores that is
    shared within a request; 0 = independent tokens). The token is accepted with
    `accept_given_confidence` of its confidence's bin — given that every earlier position was
    accepted (the first rejection ends the run).
    """

    confidence_bin_edges: list[float]
    confidence_hist_by_position: list[list[float]] = Field(
        description="[position][bin]: share of draft tokens at that position whose confidence lies in the bin"
    )
    accept_given_confidence: list[float] = Field(
        description="[bin]: P(accept | confidence in bin, earlier positions accepted)"
    )
    accept_samples_by_bin: list[int] = Field(description="[bin]: tokens behind each estimate")
    request_share: float = Field(ge=0, lt=1)
    position_acceptance: list[float] = Field(
        description="[position]: P(accepted prefix ≥ position), with max_draft_tokens drafted"
    )
    mean_accepted_length: list[float] = Field(
        description="[k-1]: mean tokens per step (accepted prefix + 1 bonus) when drafting k"
    )
    requests: int = Field(ge=0)
    draft_tokens: int = Field(ge=0)
    ranks: RankAcceptance | None = Field(
        default=None, description="the draft's lower-ranked candidates, for token trees (schema 4)")

    @model_validator(mode="after")
    def _check(self) -> CategoryAcceptance:
        edges = self.confidence_bin_edges
        if len(edges) < 2 or edges[0] != 0.0 or edges[-1] != 1.0:
            raise ValueError("confidence_bin_edges must run from 0.0 to 1.0")
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("confidence_bin_edges must be strictly increasing")
        bins = len(edges) - 1
        for name in ("accept_given_confidence", "accept_samples_by_bin"):
            if len(getattr(self, name)) != bins:
                raise ValueError(f"{name} must have one entry per confidence bin ({bins})")
        if any(not 0.0 <= p <= 1.0 for p in self.accept_given_confidence):
            raise ValueError("accept_given_confidence must lie in [0, 1]")
        if not self.confidence_hist_by_position:
            raise ValueError("confidence_hist_by_position must hold at least one position")
        for position, row in enumerate(self.confidence_hist_by_position):
            if len(row) != bins:
                raise ValueError(f"confidence_hist_by_position[{position}] must have {bins} bins")
            if any(share < 0 for share in row) or abs(sum(row) - 1.0) > 1e-6:
                raise ValueError(f"confidence_hist_by_position[{position}] must be shares summing to 1")
        if self.ranks is not None:
            for name in ("match_given_probability", "match_samples_by_bin"):
                for rank, row in enumerate(getattr(self.ranks, name), start=2):
                    if len(row) != bins:
                        raise ValueError(f"ranks.{name}[{rank - 2}] (rank {rank}) must have {bins} bins")
        prefixes = self.position_acceptance
        if any(not 0.0 <= p <= 1.0 for p in prefixes):
            raise ValueError("position_acceptance must lie in [0, 1]")
        if any(later > earlier + 1e-9 for earlier, later in itertools.pairwise(prefixes)):
            raise ValueError(f"position_acceptance must not increase (P(accepted prefix >= position)): "
                             f"{prefixes}")
        return self


class Acceptance(Strict):
    source: Literal["measured", "published"]
    citations: list[str] = Field(default_factory=list)
    max_draft_tokens: int = Field(ge=1, le=64)
    default_category: str
    greedy: dict[str, CategoryAcceptance]
    sampling: dict[str, CategoryAcceptance] | None = Field(
        default=None, description="the same at temperature 1 (acceptance = min(1, p/q))"
    )

    @model_validator(mode="after")
    def _check(self) -> Acceptance:
        if not self.greedy:
            raise ValueError("greedy must hold at least one category")
        if self.default_category not in self.greedy:
            raise ValueError(f"default_category {self.default_category!r} is not in greedy")
        for mode in ("greedy", "sampling"):
            for name, curve in (getattr(self, mode) or {}).items():
                if len(curve.confidence_hist_by_position) != self.max_draft_tokens:
                    raise ValueError(
                        f"{mode}.{name}: confidence_hist_by_position must have max_draft_tokens "
                        f"({self.max_draft_tokens}) positions"
                    )
        return self


class Profile(Strict):
    schema_version: int
    name: str
    # fitted: a roofline whose engine coefficients were fitted to an engine's own benchmark runs
    # (engine.fit names them); schema version 2
    source: Literal["measured", "roofline", "fitted"]
    citations: list[str] = Field(default_factory=list)
    notes: str = ""
    hardware: Hardware
    target: ModelInfo
    draft: ModelInfo
    latency: Latency
    memory: Memory
    acceptance: Acceptance | None = Field(
        default=None, description="absent for random-weight calibrations (latency only)"
    )
    engine: Engine | None = Field(
        default=None, description="how the engine composes and pays for a step; absent: separate "
        "forwards, no fixed costs beyond the grids (every version-1 profile)"
    )

    @field_validator("schema_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value not in READABLE_VERSIONS:
            readable = " or ".join(str(v) for v in READABLE_VERSIONS)
            raise ValueError(f"this specsim reads schema_version {readable}, the file has {value}")
        return value

    @model_validator(mode="after")
    def _engine_needs_version_2(self) -> Profile:
        if self.engine is not None and self.schema_version < 2:
            raise ValueError("engine: needs schema_version 2")
        if self.acceptance is not None and self.schema_version < 4:
            for mode in ("greedy", "sampling"):
                for name, curve in (getattr(self.acceptance, mode) or {}).items():
                    if curve.ranks is not None:
                        raise ValueError(f"acceptance.{mode}.{name}.ranks: needs schema_version 4")
        return self
