"""Golden outputs of the simulator: what shipped scenarios × every policy × two seeds produced
when they were written, held so that speed work cannot change results unnoticed.

A run is kept as a fingerprint, not as its tables: for every column of the requests and steps
tables, integer, boolean and text columns by a hash of their values (must match exactly), float
columns by their NaN count, sum, sum of squares and a position-weighted sum (must match to 1e-9
relative: a change of summation order may move the last bits, never a count or an order), plus
one hash of everything (bit-identical or not). The summary row: numbers to 1e-9, the rest exact.

    python -m tests.sim.golden        # rewrite tests/fixtures/golden_sim.json (say why in the commit)
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import simulate
from specsim.policy import POLICIES
from specsim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_PATH = ROOT / "tests" / "fixtures" / "golden_sim.json"
RELATIVE_TOLERANCE = 1e-9
SEEDS = (0, 1)
# every registered policy with its published defaults, and the variants the shipped scenarios run
POLICY_SPECS = (*sorted(POLICIES), "fixed:k=2", "disable_by_batch:k=4,max_batch=16",
                "goodput:alpha=per_request", "slo_customized:budget=knee", "adaptive:gate=slack",
                "adaptive:slo_gate=false", "adaptive:confidence=calibrated", "slo_customized:tree=false")


def golden_scenarios() -> dict[str, Scenario]:
    """Short cuts of three shipped scenarios (the measured profile: separate forwards) and the
    bursty one on the shipped roofline profile (a fused engine)."""
    def shipped(name: str, duration_s: float, **fields: Any) -> Scenario:
        fields["workload.duration_s"] = duration_s
        return load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_fields(fields)
    return {
        "bursty": shipped("bursty", 30),
        "oscillating": shipped("oscillating", 40),
        "trace_replay": shipped("trace_replay", 30, **{"workload.rate_scale": 4.0}),
        "bursty_fused": shipped("bursty", 30, profile="h100-llama2-7b-llama-68m"),
    }


def table_fingerprint(table: pd.DataFrame) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name in table.columns:
        values = table[name]
        if pd.api.types.is_float_dtype(values):
            array = values.to_numpy(dtype=float)
            finite = np.where(np.isnan(array), 0.0, array)
            weights = np.arange(1, len(array) + 1, dtype=float) / max(len(array), 1)
            columns[name] = {"nan": int(np.isnan(array).sum()), "sum": math.fsum(finite),
                             "sum_squares": math.fsum(finite * finite),
                             "weighted_sum": math.fsum(finite * weights)}
        else:
            text = "\x1f".join(map(str, values.tolist()))
            columns[name] = {"hash": hashlib.sha256(text.encode()).hexdigest()[:16]}
    exact = hashlib.sha256(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return {"rows": len(table), "columns": list(table.columns), "exact": exact.hexdigest()[:16],
            "by_column": columns}


def run_fingerprint(scenario: Scenario, policy: str, seed: int) -> dict[str, Any]:
    result = simulate(scenario, policy, seed)
    summary = {key: value.item() if hasattr(value, "item") else value
               for key, value in result.summary.items()}
    return {"summary": summary, "requests": table_fingerprint(result.requests),
            "steps": table_fingerprint(result.steps)}


def golden_cases() -> list[tuple[str, str, int]]:
    return [(scenario, policy, seed)
            for scenario in golden_scenarios() for policy in POLICY_SPECS for seed in SEEDS]


def case_key(scenario: str, policy: str, seed: int) -> str:
    return f"{scenario} | {policy} | seed {seed}"


def differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """What differs beyond the tolerance, one line each (empty: the run matches)."""
    found: list[str] = []
    _compare_values("summary", expected["summary"], actual["summary"], found)
    for table in ("requests", "steps"):
        old, new = expected[table], actual[table]
        if old["exact"] == new["exact"]:
            continue
        if old["rows"] != new["rows"] or old["columns"] != new["columns"]:
            found.append(f"{table}: {old['rows']} × {old['columns']} → {new['rows']} × {new['columns']}")
            continue
        for column, fingerprint in old["by_column"].items():
            _compare_values(f"{table}.{column}", fingerprint, new["by_column"][column], found)
    return found


def _compare_values(where: str, expected: Any, actual: Any, found: list[str]) -> None:
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            found.append(f"{where}: keys {sorted(set(expected) ^ set(actual))} differ")
            return
        for key in expected:
            _compare_values(f"{where}.{key}", expected[key], actual[key], found)
        return
    if isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        both_nan = math.isnan(expected) and math.isnan(actual)
        if not both_nan and not math.isclose(expected, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12):
            found.append(f"{where}: {expected!r} → {actual!r}")
        return
    if expected != actual:
        found.append(f"{where}: {expected!r} → {actual!r}")


def write_golden() -> None:
    runs = {case_key(*case): run_fingerprint(golden_scenarios()[case[0]], case[1], case[2])
            for case in golden_cases()}
    GOLDEN_PATH.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(runs)} runs to {GOLDEN_PATH}")


if __name__ == "__main__":
    write_golden()
