"""A run as a timeline to look at: Chrome / Perfetto trace JSON (`traceEvents`), built from the
run's two tables, so a simulated and a real run of the same point open side by side.

Per replica (a process in the viewer): a `steps` track where each engine step is a slice with
its draft, verify and prefill forwards nested in it, one after the other as the tables book them
(the rest of the step — host time — is the gap at its end); counters for the decoding batch size
and the mean k; and each request served there as an async slice from its arrival to its last
token, split at its first token into `to first token` (queueing and prefill) and `decode`.
Open it in https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

MICROSECONDS = 1e6


def chrome_trace(requests: pd.DataFrame, steps: pd.DataFrame) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    replicas = sorted(set(steps["replica"].tolist()) | set(requests["replica"].tolist()) - {-1})
    for replica in replicas:
        events.append({"ph": "M", "name": "process_name", "pid": int(replica),
                       "args": {"name": f"replica {replica}"}})
        events.append({"ph": "M", "name": "thread_name", "pid": int(replica), "tid": 0,
                       "args": {"name": "steps"}})
    for row in steps.itertuples(index=False):
        events += _step_events(row)
    for row in requests.itertuples(index=False):
        events += _request_events(row)
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_trace(requests: pd.DataFrame, steps: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(chrome_trace(requests, steps)))
    return path


def _us(seconds: float) -> float:
    return round(seconds * MICROSECONDS, 3)


def _step_events(row: Any) -> list[dict[str, Any]]:
    pid, start = int(row.replica), float(row.t_s)
    step = {"ph": "X", "pid": pid, "tid": 0, "name": "step", "ts": _us(start), "dur": _us(row.step_s),
            "args": {"batch_size": int(row.batch_size), "prefill_tokens": int(row.prefill_tokens),
                     "drafted": int(row.drafted), "accepted": int(row.accepted), "k_max": int(row.k_max)}}
    events = [step]
    at = start
    for name, seconds in (("draft", row.draft_s), ("verify", row.verify_s), ("prefill", row.prefill_s)):
        if seconds > 0:
            events.append({"ph": "X", "pid": pid, "tid": 0, "name": name, "ts": _us(at), "dur": _us(seconds)})
            at += seconds
    events.append({"ph": "C", "pid": pid, "name": "decoding batch", "ts": _us(start),
                   "args": {"requests": int(row.batch_size)}})
    events.append({"ph": "C", "pid": pid, "name": "k", "ts": _us(start),
                   "args": {"mean k": float(row.k_mean)}})
    return events


def _request_events(row: Any) -> list[dict[str, Any]]:
    if row.replica < 0 or math.isnan(row.arrival_s):
        return []
    pid, ident = int(row.replica), f"request-{row.request_id}"
    arrival, first, finish = float(row.arrival_s), float(row.first_token_s), float(row.finish_s)
    end = finish if not math.isnan(finish) else first

    def span(phase: str, name: str, at: float) -> dict[str, Any]:
        return {"ph": phase, "cat": "request", "id": ident, "pid": pid, "name": name, "ts": _us(at)}

    if math.isnan(end):
        return []  # no token before the run stopped: nothing to draw
    events = [span("b", f"request {row.request_id}", arrival), span("b", "to first token", arrival),
              span("e", "to first token", first)]
    if not math.isnan(finish):
        events += [span("b", "decode", first), span("e", "decode", finish)]
    events.append(span("e", f"request {row.request_id}", end))
    events[0]["args"] = {"prompt_tokens": int(row.prompt_tokens), "output_tokens": int(row.output_tokens),
                         "slo_met": bool(row.slo_met)}
    return events
