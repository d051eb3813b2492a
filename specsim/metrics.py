"""The `summary` row of a run (DESIGN.md contract 3), computed from its two tables only — so a
simulated and a real run are summarised by the same arithmetic.

Definitions:
- throughput: output tokens of finished requests per second of makespan (first arrival to the
  last step's end); a run cut off with requests unfinished says so in `finished`;
- goodput: SLO-meeting requests per second of the arrival window (the same denominator for
  every policy of a comparison);
- SLO attainment: share of all requests that finished with TTFT and TPOT within target;
  requests unfinished when the run stopped count as misses;
- TTFT / TPOT percentiles: over the requests that have the value;
- mean accepted length: 1 + accepted / (request-steps that drafted), the bonus token included
  (the serving engines' metric); acceptance rate: accepted / drafted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = (
    "scenario", "policy", "seed", "load", "requests", "finished", "throughput_tokens_per_s",
    "goodput_requests_per_s", "slo_attainment", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s",
    "tpot_p90_s", "tpot_p99_s", "mean_accepted_length", "acceptance_rate", "mean_k", "makespan_s",
    "arrival_window_s",
)


def _percentile(values: pd.Series, q: float) -> float:
    present = values.dropna().to_numpy()
    return float(np.percentile(present, q)) if len(present) else math.nan


def summarize(requests: pd.DataFrame, steps: pd.DataFrame, *, scenario: str, policy: str, seed: int,
              arrival_window_s: float) -> dict[str, Any]:
    count = len(requests)
    finished = int(requests["finish_s"].notna().sum())
    first_arrival = float(requests["arrival_s"].min()) if count else 0.0
    end = float((steps["t_s"] + steps["step_s"]).max()) if len(steps) else first_arrival
    makespan = max(end - first_arrival, 0.0)
    produced = int(requests.loc[requests["finish_s"].notna(), "output_tokens"].sum())
    drafted = int(steps["drafted"].sum())
    accepted = int(steps["accepted"].sum())
    speculating = int(steps["speculating"].sum())
    decode_request_steps = int(steps["batch_size"].sum())
    return {
        "scenario": scenario,
        "policy": policy,
        "seed": seed,
        "load": count / arrival_window_s if arrival_window_s > 0 else math.nan,
        "requests": count,
        "finished": finished,
        "throughput_tokens_per_s": produced / makespan if makespan > 0 else math.nan,
        "goodput_requests_per_s": float(requests["slo_met"].sum()) / arrival_window_s
        if arrival_window_s > 0 else math.nan,
        "slo_attainment": float(requests["slo_met"].mean()) if count else math.nan,
        "ttft_p50_s": _percentile(requests["ttft_s"], 50),
        "ttft_p90_s": _percentile(requests["ttft_s"], 90),
        "ttft_p99_s": _percentile(requests["ttft_s"], 99),
        "tpot_p50_s": _percentile(requests["tpot_s"], 50),
        "tpot_p90_s": _percentile(requests["tpot_s"], 90),
        "tpot_p99_s": _percentile(requests["tpot_s"], 99),
        "mean_accepted_length": 1.0 + accepted / speculating if speculating else math.nan,
        "acceptance_rate": accepted / drafted if drafted else math.nan,
        "mean_k": drafted / decode_request_steps if decode_request_steps else 0.0,
        "makespan_s": makespan,
        "arrival_window_s": arrival_window_s,
    }

