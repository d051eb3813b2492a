"""The `workload:` schema: what it accepts, and the one-line message for what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from specsim.errors import SpecsimError, validation_error
from specsim.workload.spec import (
    GammaArrival,
    LognormalOutputLength,
    MmppArrival,
    PiecewiseArrival,
    WorkloadSpec,
)


class _Scenario(BaseModel):
    # stands in for the scenario loader, which nests the workload under `workload:`
    workload: WorkloadSpec


def _base(**changes: Any) -> dict[str, Any]:
    workload: dict[str, Any] = {
        "duration_s": 60,
        "arrival": {"kind": "poisson", "rate": 2.0},
        "prompt_tokens": {"kind": "lognormal", "median": 500, "sigma": 1.0, "max": 4096},
        "output_tokens": {"kind": "fixed", "value": 100},
    }
    workload.update(changes)
    return {key: value for key, value in workload.items() if value is not None}


def _message(workload: dict[str, Any]) -> str:
    data = {"workload": workload}
    with pytest.raises(ValidationError) as caught:
        _Scenario.model_validate(data)
    error = validation_error("scenario.yaml", caught.value, data)
    assert isinstance(error, SpecsimError)
    text = str(error)
    assert "\n" not in text
    return text


def test_accepts_every_kind_as_written_in_the_design() -> None:
    spec = WorkloadSpec.model_validate(
        {
            "duration_s": 600,
            "max_requests": 20000,
            "rate_scale": 1.5,
            "arrival": {
                "kind": "mmpp",
                "states": [{"rate": 1.0, "mean_dwell_s": 60}, {"rate": 12.0, "mean_dwell_s": 8}],
                "start_state": 0,
            },
            "prompt_tokens": {"kind": "zipf", "exponent": 1.5, "scale": 10, "min": 1, "max": 4096},
            "output_tokens": {
                "kind": "lognormal",
                "median": 200,
                "sigma": 0.8,
                "correlation_with_prompt": 0.3,
            },
            "categories": {"chat": 0.5, "code": 0.3, "summarisation": 0.2},
        }
    )
    assert isinstance(spec.arrival, MmppArrival)
    assert isinstance(spec.output_tokens, LognormalOutputLength)
    assert spec.output_tokens.correlation_with_prompt == 0.3
    assert list(spec.categories) == ["chat", "code", "summarisation"]
    gamma = WorkloadSpec.model_validate(_base(arrival={"kind": "gamma", "rate": 3, "cv": 2})).arrival
    assert isinstance(gamma, GammaArrival)


def test_defaults_one_chat_category_and_no_cap() -> None:
    spec = WorkloadSpec.model_validate(_base())
    assert spec.categories == {"chat": 1.0}
    assert spec.max_requests is None and spec.rate_scale == 1.0
    assert spec.prompt_tokens is not None and spec.prompt_tokens.min == 1


def test_a_bad_rate_names_its_path_on_one_line() -> None:
    text = _message(_base(arrival={"kind": "poisson", "rate": 0}))
    assert text == "scenario.yaml: workload.arrival.rate: input should be greater than 0, got 0"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"arrival": {"kind": "gamma", "rate": 1, "cv": 0}},
            "workload.arrival.cv: input should be greater than 0",
        ),
        (
            {"arrival": {"kind": "poisson", "rate": float("inf")}},
            "workload.arrival.rate: input should be a finite",
        ),
        ({"arrival": {"kind": "burst", "rate": 1}}, "workload.arrival: input tag 'burst'"),
        (
            {
                "arrival": {
                    "kind": "mmpp",
                    "states": [{"rate": 0, "mean_dwell_s": 1}, {"rate": 0, "mean_dwell_s": 1}],
                }
            },
            "workload.arrival.states: at least one state must have a rate greater than 0",
        ),
        (
            {
                "arrival": {
                    "kind": "mmpp",
                    "states": [{"rate": -1, "mean_dwell_s": 1}, {"rate": 1, "mean_dwell_s": 1}],
                }
            },
            "workload.arrival.states.0.rate: input should be greater than or equal to 0",
        ),
        (
            {
                "arrival": {
                    "kind": "mmpp",
                    "states": [{"rate": 1, "mean_dwell_s": 1}, {"rate": 1, "mean_dwell_s": 1}],
                    "start_state": 2,
                }
            },
            "workload.arrival.start_state: must index states (0 to 1)",
        ),
        (
            {"arrival": {"kind": "oscillating", "low_rate": 5, "high_rate": 2, "period_s": 10}},
            "workload.arrival.high_rate: must be at least low_rate (5.0)",
        ),
        (
            {"arrival": {"kind": "piecewise", "times_s": [0, 60, 60], "rates": [1, 2, 3]}},
            "workload.arrival.times_s: must be strictly increasing",
        ),
        (
            {"arrival": {"kind": "piecewise", "times_s": [10, 60], "rates": [1, 2]}},
            "workload.arrival.times_s: must start at 0",
        ),
        (
            {"arrival": {"kind": "piecewise", "times_s": [0, 60], "rates": [1]}},
            "workload.arrival.rates: must have one entry per times_s entry (2)",
        ),
        (
            {"arrival": {"kind": "piecewise", "times_s": [0, 60], "rates": [0, 0]}},
            "workload.arrival.rates: must not all be 0",
        ),
        (
            {
                "arrival": {
                    "kind": "piecewise",
                    "times_s": [0, 60],
                    "rates": [1, 2],
                    "repeat": True,
                    "period_s": 50,
                }
            },
            "workload.arrival.period_s: must be greater than the last of times_s (60.0)",
        ),
        (
            {"prompt_tokens": {"kind": "uniform", "low": 9, "high": 3}},
            "workload.prompt_tokens.high: must be at least low (9)",
        ),
        (
            {"prompt_tokens": {"kind": "fixed", "value": 10, "min": 50, "max": 20}},
            "workload.prompt_tokens.max: must be at least min (50)",
        ),
        (
            {"prompt_tokens": {"kind": "zipf", "exponent": 1.0}},
            "workload.prompt_tokens.exponent: input should be greater than 1",
        ),
        (
            {"prompt_tokens": {"kind": "fixed", "value": 10, "correlation_with_prompt": 0.3}},
            "workload.prompt_tokens.correlation_with_prompt: unknown field",
        ),
        (
            {"output_tokens": {"kind": "fixed", "value": 10, "correlation_with_prompt": 1.0}},
            "workload.output_tokens.correlation_with_prompt: input should be less than 1",
        ),
        (
            {
                "output_tokens": {
                    "kind": "empirical",
                    "trace": {"format": "parquet", "path": "x"},
                    "column": "output_tokens",
                }
            },
            "workload.output_tokens.trace.format: input should be",
        ),
        (
            {"categories": {"chat": 0.7, "code": 0}},
            "workload.categories.code: input should be greater than 0",
        ),
        ({"categories": {}}, "workload.categories: dictionary should have at least 1 item"),
        ({"rate_scale": -1}, "workload.rate_scale: input should be greater than 0"),
        ({"max_requests": 0}, "workload.max_requests: input should be greater than or equal to 1"),
        ({"arrival": None}, "workload.arrival: required field is missing"),
        ({"duration_s": None}, "workload.duration_s: required field is missing"),
        ({"arival": {"kind": "poisson", "rate": 1}}, "workload.arival: unknown field"),
    ],
)
def test_refusals_name_the_field(changes: dict[str, Any], expected: str) -> None:
    assert expected in _message(_base(**changes))


def test_a_trace_excludes_generated_arrivals_and_lengths() -> None:
    trace = {"format": "burstgpt", "path": "traces/sample_burstgpt.csv"}
    spec = WorkloadSpec.model_validate({"trace": trace})
    assert spec.trace is not None and spec.arrival is None and spec.duration_s is None
    text = _message({"trace": trace, "arrival": {"kind": "poisson", "rate": 1}})
    assert "workload.arrival: must be absent when a trace is replayed" in text
    text = _message({"trace": trace, "output_tokens": {"kind": "fixed", "value": 3}})
    assert "workload.output_tokens: must be absent when a trace is replayed" in text
    text = _message({"trace": {**trace, "start_s": 100, "end_s": 50}})
    assert "workload.trace.end_s: must be greater than start_s (100.0), got 50" in text
    # a broken trace section is reported as such, not as missing arrivals
    assert "workload.trace.time_scale: input should be greater than 0" in _message(
        {"trace": {**trace, "time_scale": 0}}
    )


def test_piecewise_cycle_defaults_to_repeating_the_last_step_length() -> None:
    def cycle(**fields: Any) -> float | None:
        return PiecewiseArrival.model_validate({"kind": "piecewise", **fields}).cycle_s()

    assert cycle(times_s=[0, 60, 120], rates=[1, 5, 2], repeat=True) == 180
    assert cycle(times_s=[0, 60, 100], rates=[1, 5, 2], repeat=True, period_s=300) == 300
    assert cycle(times_s=[0, 60, 120], rates=[1, 5, 2]) is None
    assert cycle(times_s=[0], rates=[3], repeat=True) is None


def test_specs_are_frozen() -> None:
    spec = WorkloadSpec.model_validate(_base())
    with pytest.raises(ValidationError):
        spec.duration_s = 5  # type: ignore[misc]
