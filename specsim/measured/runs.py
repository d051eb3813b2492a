"""A serving engine's own benchmark run, as specsim replays it: the requests it sent, the server's
limits, and per load stage what it measured — compared metric by metric with a simulation of
the same requests (`stage_metrics` computes both sides from a requests table).

Metrics (seconds, or per second), each over the successful requests of one stage:
    mean_e2e_s, mean_ttft_s, median_ttft_s   end to end and to the first token, from sending
    mean_tpot_s, median_tpot_s               (E2E − TTFT) / (output tokens − 1) per request
    requests_per_s                           requests / (last finish − first send), as
                                             inference-perf and vLLM's benchmark report it
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from specsim.workload.requests import Requests

METRICS = ("mean_e2e_s", "mean_ttft_s", "median_ttft_s", "mean_tpot_s", "median_tpot_s", "requests_per_s")
# what a fit matches by default: the goals (E2E, TPOT, TTFT); throughput below saturation
# only repeats the offered rate
FITTED_METRICS = ("mean_e2e_s", "mean_ttft_s", "median_tpot_s")


@dataclass(frozen=True)
class Stage:
    """One load stage: the requests [first, end) of the run, and what the benchmark measured."""

    name: str
    first: int
    end: int
    measured: dict[str, float]


@dataclass(frozen=True)
class MeasuredRun:
    name: str
    source: Path
    benchmark: str  # the tool that wrote it: inference-perf, vllm-bench
    requests: Requests  # what was sent, SLOs left unset
    stages: list[Stage]
    max_num_seqs: int  # the server's max batch size
    max_num_batched_tokens: int  # its token budget per step
    notes: list[str] = field(default_factory=list)  # what the reader derived rather than read


def stage_metrics(requests: pd.DataFrame, first: int, end: int) -> dict[str, float]:
    """The metrics of requests [first, end) of a contract-3 requests table (finished ones only)."""
    stage = requests.iloc[first:end]
    done = stage[stage["finish_s"].notna()]
    if done.empty:
        return {name: float("nan") for name in METRICS}
    output = done["output_tokens"].to_numpy()
    decode_s = (done["e2e_s"] - done["ttft_s"]).to_numpy()
    tpot = decode_s[output > 1] / (output[output > 1] - 1)
    span_s = float(done["finish_s"].max() - done["arrival_s"].min())
    return {
        "mean_e2e_s": float(done["e2e_s"].mean()),
        "mean_ttft_s": float(done["ttft_s"].mean()),
        "median_ttft_s": float(done["ttft_s"].median()),
        "mean_tpot_s": float(tpot.mean()) if len(tpot) else float("nan"),
        "median_tpot_s": float(np.median(tpot)) if len(tpot) else float("nan"),
        "requests_per_s": len(done) / span_s if span_s > 0 else float("nan"),
    }
