"""Every simulated run matches the golden outputs written before the speed work (golden.py says
what is held and to what tolerance)."""

import json

import pytest

from tests.sim.golden import (
    GOLDEN_PATH,
    case_key,
    differences,
    golden_cases,
    golden_scenarios,
    run_fingerprint,
)

GOLDEN = json.loads(GOLDEN_PATH.read_text())
SCENARIOS = golden_scenarios()


def test_golden_covers_every_case() -> None:
    assert sorted(GOLDEN) == sorted(case_key(*case) for case in golden_cases())


@pytest.mark.parametrize("scenario, policy, seed", golden_cases(), ids=lambda value: str(value))
def test_run_matches_golden(scenario: str, policy: str, seed: int) -> None:
    expected = GOLDEN[case_key(scenario, policy, seed)]
    assert expected["steps"]["rows"] > 100  # a run long enough to mean something
    found = differences(expected, run_fingerprint(SCENARIOS[scenario], policy, seed))
    assert not found, "\n".join(found[:20])


def test_a_changed_value_is_found() -> None:
    expected = GOLDEN[case_key("bursty", "fixed", 0)]
    actual = json.loads(json.dumps(expected))
    actual["steps"]["exact"] = "changed"
    actual["steps"]["by_column"]["step_s"]["sum"] *= 1 + 1e-6
    actual["summary"]["finished"] = -1
    found = differences(expected, actual)
    assert any("steps.step_s.sum" in line for line in found)
    assert any("summary.finished" in line for line in found)
    step_s = expected["steps"]["by_column"]["step_s"]
    actual["steps"]["by_column"]["step_s"]["sum"] = step_s["sum"] * (1 + 1e-12)
    actual["summary"]["finished"] = expected["summary"]["finished"]
    assert differences(expected, actual) == []
