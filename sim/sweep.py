"""A sweep: every grid point × policy × seed of a scenario, each an independent simulation.

Points run on any `concurrent.futures`-style executor — local processes, or a Dask cluster
through `distributed.Client.get_executor()` — so both paths are this one loop. Each finished
point's summary row is appended to `points.jsonl` at once (one line, flushed), which is what
makes a killed sweep resumable: a restart skips every point already on file.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from specsim.errors import SpecsimError
from specsim.policy import make_policy
from specsim.profile import Profile, load_profile
from specsim.scenario import Scenario

POINTS_FILE = "points.jsonl"
MANIFEST_FILE = "sweep.json"


@dataclass(frozen=True)
class SweepPoint:
    index: int  # position in the grid's fixed order: tables come out in this order
    overrides: tuple[tuple[str, Any], ...]  # (dotted path, value) for each grid axis
    policy: str | tuple[tuple[str, Any], ...]  # a spec string, or a mapping spec as sorted items
    seed: int

    @property
    def policy_spec(self) -> str | dict[str, Any]:
        return self.policy if isinstance(self.policy, str) else dict(self.policy)

    @property
    def key(self) -> str:
        """Identifies the point across restarts (indices would shift if the grid changed)."""
        return json.dumps([list(self.overrides), _label(self.policy_spec), self.seed], default=str)


def sweep_points(scenario: Scenario) -> list[SweepPoint]:
    axes = list(scenario.sweep.grid.items())
    combos = itertools.product(*[values for _, values in axes]) if axes else [()]
    points = []
    for values in combos:
        overrides = tuple((path, value) for (path, _), value in zip(axes, values, strict=True))
        for policy in scenario.policies:
            frozen = policy if isinstance(policy, str) else tuple(sorted(policy.items()))
            for seed in scenario.seeds:
                points.append(SweepPoint(len(points), overrides, frozen, seed))
    return points


def run_sweep(scenario: Scenario, out_dir: Path, executor: concurrent.futures.Executor | None,
              progress: Callable[[int, int], Any] | None = None) -> pd.DataFrame:
    """Run the points not yet on file in `out_dir`; return every point's row, in grid order.

    `executor=None` runs in this process. `progress(done, total)` returns an object with
    `update(n)` and `close()` (a tqdm bar) or is None.
    """
    points = sweep_points(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(scenario, out_dir, len(points))
    done = read_points(out_dir / POINTS_FILE)
    todo = [point for point in points if point.key not in done]
    bar = progress(len(points) - len(todo), len(points)) if progress else None
    try:
        with open(out_dir / POINTS_FILE, "a", encoding="utf-8") as sink:
            for point, row in _run_all(todo, scenario, executor):
                done[point.key] = row
                sink.write(json.dumps(row, default=_json_default, allow_nan=True) + "\n")
                sink.flush()
                os.fsync(sink.fileno())
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return pd.DataFrame([done[point.key] for point in points])


def _run_all(todo: list[SweepPoint], scenario: Scenario,
             executor: concurrent.futures.Executor | None) -> Iterator[tuple[SweepPoint, dict[str, Any]]]:
    if executor is None:
        for point in todo:
            yield point, run_point(scenario, point)
        return
    futures = {executor.submit(run_point, scenario, point): point for point in todo}
    try:
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()
    finally:
        for future in futures:
            future.cancel()


def run_point(scenario: Scenario, point: SweepPoint) -> dict[str, Any]:
    """One simulation; a module-level function so that worker processes can unpickle it."""
    from sim.cluster import simulate

    scenario = scenario.with_fields(dict(point.overrides))
    try:
        result = simulate(scenario, point.policy_spec, point.seed, profile=_profile(scenario))
    except SpecsimError as error:
        raise SpecsimError(f"sweep point {_describe(point)}: {error}") from None
    row: dict[str, Any] = {"point": point.index, "key": point.key}
    row.update({path: value for path, value in point.overrides})
    row.update(result.summary)
    row["preemptions"] = result.details.get("preemptions", 0)
    row["latency_extrapolated_share"] = result.details.get("latency_extrapolated_share", 0.0)
    return row


def _profile(scenario: Scenario) -> Profile:
    return _cached_profile(scenario.profile, str(scenario.base_dir))


@lru_cache(maxsize=8)
def _cached_profile(name: str, base_dir: str) -> Profile:
    return load_profile(name, relative_to=Path(base_dir))


def read_points(path: Path) -> dict[str, dict[str, Any]]:
    """Rows on file by point key. A torn last line (a kill mid-write) is ignored: that point
    simply runs again."""
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "key" in row:
            rows[row["key"]] = row
    return rows


def _check_manifest(scenario: Scenario, out_dir: Path, point_count: int) -> None:
    """Refuse to mix two different sweeps' points in one folder."""
    fingerprint = hashlib.sha256(json.dumps(scenario.raw(), sort_keys=True, default=str).encode()).hexdigest()
    manifest = {"scenario": scenario.name, "source": scenario.source, "fingerprint": fingerprint,
                "points": point_count}
    path = out_dir / MANIFEST_FILE
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
        if previous.get("fingerprint") != fingerprint:
            raise SpecsimError(
                f"{out_dir}: holds results of a different sweep ({previous.get('source', '?')}); "
                "give another --out, or --fresh to start over"
            )
        return
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def _label(spec: str | dict[str, Any]) -> str:
    return make_policy(spec).label()


def _describe(point: SweepPoint) -> str:
    parts = [f"{path}={value}" for path, value in point.overrides]
    parts += [f"policy={_label(point.policy_spec)}", f"seed={point.seed}"]
    return " ".join(parts)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
