"""The `workload:` section of a scenario, as validated pydantic models.

Each arrival process and each length distribution is its own model, tagged by `kind`. Messages
are written to follow a field path ("arrival.rate: must be greater than 0"), so validators raise
`PydanticCustomError` rather than `ValueError`, whose message pydantic prefixes with "Value error,".
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

TraceFormat = Literal["azure", "burstgpt", "mooncake", "csv"]


class Strict(BaseModel):
    # inf/nan would pass `gt=0` and then break the generator far from the YAML line at fault
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", message)


def _missing(message: str) -> PydanticCustomError:
    # type "missing" makes the loader print "field.path: required field is missing"
    return PydanticCustomError("missing", message)


# ---------------------------------------------------------------------------------------- arrivals


class PoissonArrival(Strict):
    """Homogeneous Poisson arrivals: exponential inter-arrival times."""

    kind: Literal["poisson"]
    rate: float = Field(gt=0, description="requests per second")


class GammaArrival(Strict):
    """A renewal process with gamma inter-arrival times: cv > 1 is burstier than Poisson."""

    kind: Literal["gamma"]
    rate: float = Field(gt=0, description="requests per second")
    cv: float = Field(gt=0, description="coefficient of variation of inter-arrival times")


class MmppState(Strict):
    rate: float = Field(ge=0, description="requests per second while in this state (0 = off)")
    mean_dwell_s: float = Field(gt=0, description="mean of the exponential time spent in this state")


class MmppArrival(Strict):
    """Markov-modulated Poisson: dwell an exponential time, then jump uniformly to another state."""

    kind: Literal["mmpp"]
    states: list[MmppState] = Field(min_length=2)
    start_state: int = Field(0, ge=0)

    @field_validator("states")
    @classmethod
    def _some_traffic(cls, states: list[MmppState]) -> list[MmppState]:
        if all(state.rate == 0 for state in states):
            raise _invalid("at least one state must have a rate greater than 0")
        return states

    @field_validator("start_state")
    @classmethod
    def _start_exists(cls, start_state: int, info: ValidationInfo) -> int:
        states = info.data.get("states")
        if states is not None and start_state >= len(states):
            raise _invalid(f"must index states (0 to {len(states) - 1})")
        return start_state


class OscillatingArrival(Strict):
    """Poisson with a periodic rate: low at t = 0, high at t = period_s / 2.

    `square` holds low_rate for the first half of each period and high_rate for the second;
    `sine` follows low + (high - low)·(1 - cos(2πt/period))/2.
    """

    kind: Literal["oscillating"]
    low_rate: float = Field(ge=0, description="requests per second at the trough")
    high_rate: float = Field(gt=0, description="requests per second at the peak")
    period_s: float = Field(gt=0)
    shape: Literal["square", "sine"] = "square"

    @field_validator("high_rate")
    @classmethod
    def _high_above_low(cls, high_rate: float, info: ValidationInfo) -> float:
        low_rate = info.data.get("low_rate")
        if low_rate is not None and high_rate < low_rate:
            raise _invalid(f"must be at least low_rate ({low_rate})")
        return high_rate


class PiecewiseArrival(Strict):
    """Poisson with a step-function rate: rates[i] holds from times_s[i] to times_s[i + 1].

    Without `repeat` the last rate holds to the end. With `repeat` the schedule loops every
    `period_s`; when that is not given the last step lasts as long as the step before it, so
    evenly spaced steps ([0, 60, 120]) loop with the obvious period (180 s).
    """

    kind: Literal["piecewise"]
    times_s: list[float] = Field(min_length=1)
    rates: list[float] = Field(min_length=1)
    repeat: bool = False
    period_s: float | None = Field(None, gt=0)

    @field_validator("times_s")
    @classmethod
    def _times(cls, times_s: list[float]) -> list[float]:
        if times_s[0] != 0:
            raise _invalid("must start at 0")
        if any(b <= a for a, b in itertools.pairwise(times_s)):
            raise _invalid("must be strictly increasing")
        return times_s

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: list[float], info: ValidationInfo) -> list[float]:
        if any(rate < 0 for rate in rates):
            raise _invalid("must be greater than or equal to 0")
        if all(rate == 0 for rate in rates):
            raise _invalid("must not all be 0")
        times_s = info.data.get("times_s")
        if times_s is not None and len(rates) != len(times_s):
            raise _invalid(f"must have one entry per times_s entry ({len(times_s)})")
        return rates

    @field_validator("period_s")
    @classmethod
    def _period(cls, period_s: float | None, info: ValidationInfo) -> float | None:
        times_s = info.data.get("times_s")
        if period_s is not None and times_s is not None and period_s <= times_s[-1]:
            raise _invalid(f"must be greater than the last of times_s ({times_s[-1]})")
        return period_s

    def cycle_s(self) -> float | None:
        """The loop length in seconds, or None when the schedule does not repeat."""
        if not self.repeat:
            return None
        if self.period_s is not None:
            return self.period_s
        if len(self.times_s) == 1:
            return None  # one constant rate: looping changes nothing
        return self.times_s[-1] + (self.times_s[-1] - self.times_s[-2])


ArrivalSpec = Annotated[
    PoissonArrival | GammaArrival | MmppArrival | OscillatingArrival | PiecewiseArrival,
    Field(discriminator="kind"),
]

# ----------------------------------------------------------------------------------------- lengths


class TraceFile(Strict):
    format: TraceFormat
    path: Path = Field(description="relative to the scenario file's folder")


class _Clamped(Strict):
    min: int = Field(1, ge=1, description="smallest length in tokens; draws below are raised to it")
    max: int | None = Field(None, ge=1, description="largest length in tokens; draws above are cut")

    @field_validator("max")
    @classmethod
    def _max_above_min(cls, max_tokens: int | None, info: ValidationInfo) -> int | None:
        min_tokens = info.data.get("min")
        if max_tokens is not None and min_tokens is not None and max_tokens < min_tokens:
            raise _invalid(f"must be at least min ({min_tokens})")
        return max_tokens


class FixedLength(_Clamped):
    kind: Literal["fixed"]
    value: int = Field(ge=1)


class UniformLength(_Clamped):
    """Integers drawn uniformly from [low, high], both ends included."""

    kind: Literal["uniform"]
    low: int = Field(ge=1)
    high: int = Field(ge=1)

    @field_validator("high")
    @classmethod
    def _high_above_low(cls, high: int, info: ValidationInfo) -> int:
        low = info.data.get("low")
        if low is not None and high < low:
            raise _invalid(f"must be at least low ({low})")
        return high


class LognormalLength(_Clamped):
    kind: Literal["lognormal"]
    median: float = Field(gt=0, description="median length in tokens (exp of the log-mean)")
    sigma: float = Field(gt=0, description="standard deviation of log(length)")


class ZipfLength(_Clamped):
    """scale × a Zipf draw (P(k) ∝ k^-exponent, k ≥ 1): a few very long requests among many short."""

    kind: Literal["zipf"]
    exponent: float = Field(gt=1)
    scale: float = Field(1.0, gt=0, description="tokens per Zipf rank unit")


class EmpiricalLength(_Clamped):
    """Resample (with replacement) one length column of a trace."""

    kind: Literal["empirical"]
    trace: TraceFile
    column: Literal["prompt_tokens", "output_tokens"]


class _Correlated(Strict):
    # Target Spearman rank correlation with the prompt length, through a Gaussian copula.
    correlation_with_prompt: float | None = Field(None, gt=-1, lt=1)


# Output lengths take the same kinds plus the correlation; prompt lengths refuse it as unknown.
class FixedOutputLength(FixedLength, _Correlated):
    pass


class UniformOutputLength(UniformLength, _Correlated):
    pass


class LognormalOutputLength(LognormalLength, _Correlated):
    pass


class ZipfOutputLength(ZipfLength, _Correlated):
    pass


class EmpiricalOutputLength(EmpiricalLength, _Correlated):
    pass


PromptLengthSpec = Annotated[
    FixedLength | UniformLength | LognormalLength | ZipfLength | EmpiricalLength,
    Field(discriminator="kind"),
]
OutputLengthSpec = Annotated[
    FixedOutputLength | UniformOutputLength | LognormalOutputLength | ZipfOutputLength
    | EmpiricalOutputLength,
    Field(discriminator="kind"),
]
LengthSpec = PromptLengthSpec | OutputLengthSpec

# ----------------------------------------------------------------------------------------- replay


class TraceReplay(TraceFile):
    """Replay a trace's arrivals and lengths over the window [start_s, end_s) of scaled time."""

    time_scale: float = Field(1.0, gt=0, description="multiplies trace timestamps (2.0 = half the rate)")
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0)
    max_prompt_tokens: int | None = Field(None, ge=1)
    max_output_tokens: int | None = Field(None, ge=1)

    @field_validator("end_s")
    @classmethod
    def _end_after_start(cls, end_s: float | None, info: ValidationInfo) -> float | None:
        start_s = info.data.get("start_s")
        if end_s is not None and start_s is not None and end_s <= start_s:
            raise _invalid(f"must be greater than start_s ({start_s})")
        return end_s


# --------------------------------------------------------------------------------- shared prefixes


class SharedPrefix(Strict):
    """Prompts drawn from a fixed pool that shares system prompts, as inference-perf's
    `shared_prefix` data generator makes them: `groups` system prompts of `system_prompt_tokens`
    tokens, each followed by `prompts_per_group` different questions. The pool is shuffled once
    and request n sends pooled prompt n mod (groups × prompts_per_group): past the pool's size
    whole prompts come again. `prompt_tokens` gives each pooled prompt's whole length, system
    prompt included; an engine with prefix caching reuses what another request computed."""

    groups: int = Field(ge=1, le=100_000)
    prompts_per_group: int = Field(ge=1, le=100_000)
    system_prompt_tokens: int = Field(ge=0)


# --------------------------------------------------------------------------------------- workload


class WorkloadSpec(Strict):
    """Traffic: when requests arrive, how long they are, which category each belongs to.

    Either generated (arrival + prompt_tokens + output_tokens + duration_s) or replayed from a
    trace (trace alone; duration_s then optionally cuts the replay short).
    """

    # `trace` comes first so the validators below can see whether a trace is replayed.
    trace: TraceReplay | None = None
    duration_s: float | None = Field(None, gt=0, validate_default=True)
    max_requests: int | None = Field(None, ge=1)
    rate_scale: float = Field(1.0, gt=0, description="multiplies every rate; divides trace gaps")
    arrival: ArrivalSpec | None = Field(None, validate_default=True)
    prompt_tokens: PromptLengthSpec | None = Field(None, validate_default=True)
    output_tokens: OutputLengthSpec | None = Field(None, validate_default=True)
    categories: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"chat": 1.0}, min_length=1, description="mix; shares are normalised"
    )
    shared_prefix: SharedPrefix | None = Field(None, validate_default=True)

    @field_validator("duration_s", "arrival", "prompt_tokens", "output_tokens")
    @classmethod
    def _generated_or_replayed(cls, value: Any, info: ValidationInfo) -> Any:
        if "trace" not in info.data:
            return value  # the trace itself is invalid: that error is the one to report
        replayed = info.data["trace"] is not None
        if value is None and not replayed:
            raise _missing(f"{info.field_name} is required unless a trace is replayed")
        if value is not None and replayed and info.field_name != "duration_s":
            raise _invalid("must be absent when a trace is replayed (the trace gives it)")
        return value

    @field_validator("shared_prefix")
    @classmethod
    def _generated_prompts(cls, value: SharedPrefix | None, info: ValidationInfo) -> SharedPrefix | None:
        if value is not None and info.data.get("trace") is not None:
            raise _invalid("must be absent when a trace is replayed (the trace gives the prompts)")
        return value

    @field_validator("categories")
    @classmethod
    def _names(cls, categories: dict[str, float]) -> dict[str, float]:
        if any(not name for name in categories):
            raise _invalid("category names must not be empty")
        return categories
