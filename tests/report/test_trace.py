"""The Chrome/Perfetto trace of a run: its steps as slices with their forwards nested in them and
summing to the tables' times, requests as async slices from arrival to last token."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim import simulate
from specsim.cli import main
from specsim.report.trace import chrome_trace
from tests.cli.conftest import SMALL_SCENARIO, write_scenario
from tests.sim.scenarios import poisson_scenario


@pytest.fixture(scope="module")
def run():
    scenario = poisson_scenario(rate=6.0, duration_s=3.0, prompt_tokens=200, output_tokens=30,
                                max_batch_size=8, replicas=2)
    return simulate(scenario, "fixed:k=3", seed=1)


def test_steps_nest_their_forwards_and_sum_to_the_tables(run) -> None:
    trace = json.loads(json.dumps(chrome_trace(run.requests, run.steps)))  # plain JSON
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    steps = [e for e in slices if e["name"] == "step"]
    assert len(steps) == len(run.steps)
    total_forwards = 0.0
    for event in slices:
        if event["name"] == "step":
            continue
        step = max((s for s in steps if s["pid"] == event["pid"] and s["ts"] <= event["ts"]),
                   key=lambda s: s["ts"])
        assert event["ts"] + event["dur"] <= step["ts"] + step["dur"] + 1e-3  # inside its step
        total_forwards += event["dur"]
    booked = (run.steps["draft_s"] + run.steps["verify_s"] + run.steps["prefill_s"]).sum() * 1e6
    assert total_forwards == pytest.approx(booked, rel=1e-6)
    assert sum(e["dur"] for e in steps) == pytest.approx(run.steps["step_s"].sum() * 1e6, rel=1e-6)
    assert {e["name"] for e in trace["traceEvents"] if e["ph"] == "C"} == {"decoding batch", "k"}
    assert {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"} == {
        "replica 0", "replica 1"}


def test_requests_run_from_arrival_through_first_token_to_last(run) -> None:
    events = [e for e in chrome_trace(run.requests, run.steps)["traceEvents"] if e.get("cat") == "request"]
    spans: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for event in events:
        spans[(event["id"], event["name"])][event["ph"]] = event["ts"]
    assert all(set(times) == {"b", "e"} and times["e"] >= times["b"] for times in spans.values())
    for row in run.requests.itertuples():
        ident = f"request-{row.request_id}"
        first = spans[(ident, "to first token")]
        assert (first["e"] - first["b"]) / 1e6 == pytest.approx(row.ttft_s, abs=1e-6)
        decode = spans[(ident, "decode")]
        assert (decode["e"] - decode["b"]) / 1e6 == pytest.approx(row.finish_s - row.first_token_s, abs=1e-6)


def test_simulate_writes_the_trace(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, SMALL_SCENARIO)
    trace = tmp_path / "run.trace.json"
    result = CliRunner().invoke(main, ["simulate", str(scenario), "--out", str(tmp_path / "out"),
                                       "--trace", str(trace)])
    assert result.exit_code == 0, result.output
    assert "traceEvents" in json.loads(trace.read_text())
