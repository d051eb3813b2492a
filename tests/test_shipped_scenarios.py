"""Every shipped scenario validates, and runs (shortened) under each of its policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import simulate
from specsim.scenario import load_scenario

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").rglob("*.yaml"))
SHORT_S = 6.0


@pytest.mark.parametrize("path", SCENARIOS, ids=[str(p.name) for p in SCENARIOS])
def test_scenario_validates_and_runs(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.policies and scenario.seeds
    # the last grid point is usually the heaviest: run that one, cut short
    point = {axis: values[-1] for axis, values in scenario.sweep.grid.items()}
    point["workload.duration_s"] = min(SHORT_S, scenario.workload.duration_s or SHORT_S)
    short = scenario.with_fields(point)
    for policy in short.policies:
        result = simulate(short, policy, short.seeds[0])
        assert len(result.requests) > 0
        assert result.summary["finished"] > 0, (path.name, policy)


def test_at_least_the_issue_scenarios_ship() -> None:
    names = {path.stem for path in SCENARIOS}
    assert {"bursty", "steady", "oscillating", "slo_scale", "trace_replay"} <= names
