"""`specsim sweep`: every point once, resumable, the same rows locally and on Dask, a report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import sim.sweep
from sim.sweep import POINTS_FILE, run_sweep, sweep_points
from specsim.cli import main
from specsim.scenario import load_scenario

ROW_COLUMNS = ["point", "workload.rate_scale", "policy", "seed", "requests", "finished",
               "goodput_requests_per_s", "slo_attainment", "tpot_p50_s"]


def test_sweep_writes_every_point_a_table_and_a_report(small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(small_scenario), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2 * 2 * 2  # rate_scale × policies × seeds
    assert list(table["point"]) == list(range(8))
    assert set(table["policy"]) == {"none", "fixed:k=3"}
    assert "goodput req/s" in result.output
    page = (out / "report.html").read_text()
    assert "Metrics versus load" in page and "Step by step, each policy that decides k" in page
    assert "TPOT SLO" in page and "TTFT SLO" in page  # the targets on the latency panels
    assert len(page) > 1_000_000  # plotly.js is inlined: the page works offline
    # no policy here decides k step by step: the first that drafts is shown
    assert (out / "timeline" / "fixed_k=3" / "steps.csv").exists()


def test_the_report_shows_every_policy_that_decides_k(small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    scenario = load_scenario(small_scenario).raw()
    scenario["policies"] = ["none", "fixed:k=3", "adaptive", "goodput"]
    scenario["seeds"] = [0]
    path = tmp_path / "deciding.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "timeline").iterdir()) == ["adaptive", "goodput"]
    page = (out / "report.html").read_text()
    assert "adaptive: k against batch size" in page and "goodput: k and batch size over time" in page


def test_a_killed_sweep_resumes_without_rerunning_finished_points(small_scenario: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(small_scenario)
    out = tmp_path / "sweep"
    complete = run_sweep(scenario, out, executor=None)
    lines = (out / POINTS_FILE).read_text().splitlines()
    # a kill: three points on file, the fourth torn mid-line
    (out / POINTS_FILE).write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    calls: list[int] = []
    original = sim.sweep.run_point

    def counting(*args: object) -> dict[str, object]:
        calls.append(1)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sim.sweep, "run_point", counting)
    resumed = run_sweep(scenario, out, executor=None)
    assert len(calls) == len(sweep_points(scenario)) - 3
    pd.testing.assert_frame_equal(resumed[ROW_COLUMNS], complete[ROW_COLUMNS])


def test_dask_cluster_gives_the_same_rows_as_local_processes(small_scenario: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = CliRunner().invoke(main, ["sweep", str(small_scenario), "--out", str(tmp_path / "local"),
                                      "--jobs", "1", "--no-report"])
    assert local.exit_code == 0, local.output
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        remote = CliRunner().invoke(main, ["sweep", str(small_scenario), "--out", str(tmp_path / "dask"),
                                           "--scheduler", cluster.scheduler_address, "--no-report"])
    assert remote.exit_code == 0, remote.output
    assert (tmp_path / "local" / "sweep.csv").read_bytes() == (tmp_path / "dask" / "sweep.csv").read_bytes()


def test_grid_points_cover_every_combination(small_scenario: Path) -> None:
    scenario = load_scenario(small_scenario)
    points = sweep_points(scenario)
    keys = {point.key for point in points}
    assert len(keys) == len(points) == 8
    assert json.loads(points[0].key) == [[["workload.rate_scale", 0.5]], "none", 0]
