"""`specsim sweep SCENARIO`: every grid point × policy × seed, a table and an HTML report."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pandas as pd

from specsim.cli.options import output_folder
from specsim.errors import SpecsimError
from specsim.scenario import Scenario, load_scenario


@click.command("sweep")
@click.argument("scenario_path", metavar="SCENARIO")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: sweeps/SCENARIO-NAME). Re-running resumes it.")
@click.option("--jobs", type=int, default=None,
              help="Local worker processes (default: one per CPU core; 1 runs in this process).")
@click.option("--scheduler", "scheduler_address", default=None, metavar="ADDRESS",
              help="Run the points on a Dask cluster (e.g. tcp://10.0.0.5:8786) instead of locally.")
@click.option("--fresh", is_flag=True, help="Delete the results folder's earlier points first.")
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
def command(scenario_path: str, out_dir: Path | None, jobs: int | None, scheduler_address: str | None,
            fresh: bool, no_report: bool) -> None:
    """Run SCENARIO's sweep grid × policies × seeds in the simulator.

    Writes points.jsonl (appended as each point finishes), sweep.csv, report.html and the
    tables of the run shown step by step in the report."""
    from sim.sweep import MANIFEST_FILE, POINTS_FILE, run_sweep, sweep_points

    scenario = load_scenario(scenario_path)
    if jobs is not None and jobs < 1:
        raise SpecsimError(f"--jobs: must be ≥ 1, got {jobs}")
    if jobs is not None and scheduler_address is not None:
        raise SpecsimError("--jobs and --scheduler exclude each other (the Dask cluster sets its workers)")
    folder = output_folder("--out", out_dir or Path("sweeps") / scenario.name)
    if fresh:
        for name in (POINTS_FILE, MANIFEST_FILE):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "timeline", ignore_errors=True)
    point_count = len(sweep_points(scenario))
    with _executor(jobs, scheduler_address, point_count) as executor:
        points = run_sweep(scenario, folder, executor, progress=_progress_bar)
    points.drop(columns=["key"]).to_csv(folder / "sweep.csv", index=False)
    grid_axes = list(scenario.sweep.grid)
    click.echo(format_table(points, grid_axes))
    click.echo(f"\n{len(points)} runs: {folder / 'sweep.csv'}")
    if not no_report:
        report = _write_report(scenario, points, grid_axes, folder)
        click.echo(f"report: {report}")


@contextlib.contextmanager
def _executor(jobs: int | None, scheduler_address: str | None,
              point_count: int) -> Iterator[concurrent.futures.Executor | None]:
    if scheduler_address is not None:
        try:
            from distributed import Client
        except ImportError:
            raise SpecsimError(
                "--scheduler needs the 'distributed' package: pip install 'specsim[dask]'") from None
        try:
            client = Client(scheduler_address, timeout=10)
        except (OSError, TimeoutError, ValueError) as error:  # ValueError: not an address at all
            raise SpecsimError(f"--scheduler {scheduler_address}: cannot connect ({error})") from None
        with client:
            yield client.get_executor()
        return
    workers = min(jobs or os.cpu_count() or 1, point_count)
    if workers <= 1:
        yield None
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool


def _progress_bar(done: int, total: int) -> object:
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="run", desc="sweep", mininterval=0.5)


def format_table(points: pd.DataFrame, grid_axes: list[str]) -> str:
    """Goodput and SLO attainment per grid point (rows) and policy (columns), mean over seeds."""
    index = grid_axes or ["scenario"]
    table = points.pivot_table(index=index, columns="policy",
                               values=["goodput_requests_per_s", "slo_attainment"], aggfunc="mean",
                               sort=False)
    table = table.rename(columns={"goodput_requests_per_s": "goodput req/s", "slo_attainment": "attainment"})
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format",
                           "{:.3f}".format):
        return table.to_string()


def _write_report(scenario: Scenario, points: pd.DataFrame, grid_axes: list[str], folder: Path) -> Path:
    """The report's step-by-step section re-simulates one point (runs are deterministic, so these
    are the very runs in the table) — the sweep's highest grid point, first seed — for every policy
    that decides its k step by step (fixed k and plain decoding draw flat lines), else the first
    that drafts; their tables go to timeline/POLICY/."""
    from sim.cluster import simulate
    from specsim.policy import make_policy
    from specsim.policy.simple import FixedLength
    from specsim.report.sweep import write_sweep_report

    drafting = [spec for spec in scenario.policies if make_policy(spec).uses_draft]
    deciding = [spec for spec in drafting if not isinstance(make_policy(spec), FixedLength)]
    shown = deciding or drafting[:1] or scenario.policies[:1]
    overrides = {axis: values[-1] for axis, values in scenario.sweep.grid.items()}
    point = scenario.with_fields(overrides) if overrides else scenario
    seed = scenario.seeds[0]
    runs = {}
    for spec in shown:
        label = make_policy(spec).label()
        result = simulate(point, spec, seed)
        result.write(folder / "timeline" / "".join(c if c.isalnum() or c in "-_.=" else "_" for c in label))
        runs[label] = result.steps
    where = ", ".join([*(f"{axis}={value}" for axis, value in overrides.items()), f"seed {seed}"])
    return write_sweep_report(points, grid_axes, f"specsim sweep: {scenario.name}", folder / "report.html",
                              runs=runs, runs_label=where, slo_lines=_slo_lines(point))


def _slo_lines(scenario: Scenario) -> dict[str, list[tuple[str, float]]]:
    """The SLO targets (× scale) for the latency panels: one line each, or one per SLO class."""
    slo = scenario.slo
    if slo.classes:
        return {"ttft": [(f"{c.name} TTFT SLO", c.ttft_s * slo.scale) for c in slo.classes],
                "tpot": [(f"{c.name} TPOT SLO", c.tpot_s * slo.scale) for c in slo.classes]}
    return {"ttft": [("TTFT SLO", slo.ttft_s * slo.scale)], "tpot": [("TPOT SLO", slo.tpot_s * slo.scale)]}
