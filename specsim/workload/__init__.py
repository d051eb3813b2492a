"""Workload: when requests arrive, how long they are and what category each is.

`generate_requests(spec, rng, base_dir)` turns the `workload:` section of a scenario
(`WorkloadSpec`) into the `Requests` both engines replay.
"""

from specsim.workload.arrivals import generate_arrivals
from specsim.workload.generate import generate_requests
from specsim.workload.lengths import correlate_with_prompt, sample_lengths
from specsim.workload.requests import Requests
from specsim.workload.spec import (
    ArrivalSpec,
    EmpiricalLength,
    EmpiricalOutputLength,
    FixedLength,
    FixedOutputLength,
    GammaArrival,
    LengthSpec,
    LognormalLength,
    LognormalOutputLength,
    MmppArrival,
    MmppState,
    OscillatingArrival,
    OutputLengthSpec,
    PiecewiseArrival,
    PoissonArrival,
    PromptLengthSpec,
    TraceFile,
    TraceFormat,
    TraceReplay,
    UniformLength,
    UniformOutputLength,
    WorkloadSpec,
    ZipfLength,
    ZipfOutputLength,
)
from specsim.workload.traces import load_trace

__all__ = [
    "ArrivalSpec",
    "EmpiricalLength",
    "EmpiricalOutputLength",
    "FixedLength",
    "FixedOutputLength",
    "GammaArrival",
    "LengthSpec",
    "LognormalLength",
    "LognormalOutputLength",
    "MmppArrival",
    "MmppState",
    "OscillatingArrival",
    "OutputLengthSpec",
    "PiecewiseArrival",
    "PoissonArrival",
    "PromptLengthSpec",
    "Requests",
    "TraceFile",
    "TraceFormat",
    "TraceReplay",
    "UniformLength",
    "UniformOutputLength",
    "WorkloadSpec",
    "ZipfLength",
    "ZipfOutputLength",
    "correlate_with_prompt",
    "generate_arrivals",
    "generate_requests",
    "load_trace",
    "sample_lengths",
]
