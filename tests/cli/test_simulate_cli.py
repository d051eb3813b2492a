"""`specsim simulate`: tables written, summary printed, byte-identical for the same seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from specsim.cli import main
from specsim.engine.records import REQUEST_COLUMNS, STEP_COLUMNS


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_simulate_writes_the_three_tables(small_scenario: Path, tmp_path: Path) -> None:
    code, output = run("simulate", str(small_scenario), "--policy", "fixed:k=3", "--out", str(tmp_path / "r"))
    assert code == 0, output
    assert "fixed:k=3" in output and "SLO attainment" in output
    requests = pd.read_csv(tmp_path / "r" / "requests.csv")
    steps = pd.read_csv(tmp_path / "r" / "steps.csv")
    summary = pd.read_csv(tmp_path / "r" / "summary.csv")
    assert tuple(requests.columns) == REQUEST_COLUMNS
    assert tuple(steps.columns) == STEP_COLUMNS
    assert len(summary) == 1 and summary.loc[0, "policy"] == "fixed:k=3"
    assert (tmp_path / "r" / "summary.json").exists()


def test_same_seed_gives_byte_identical_tables_and_another_seed_differs(small_scenario: Path,
                                                                        tmp_path: Path) -> None:
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        code, output = run("simulate", str(small_scenario), "--policy", "fixed:k=3", "--seed", seed,
                           "--out", str(tmp_path / name))
        assert code == 0, output
    for table in ("requests.csv", "steps.csv", "summary.csv", "summary.json"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes(), table
    assert (tmp_path / "a" / "requests.csv").read_bytes() != (tmp_path / "c" / "requests.csv").read_bytes()


def test_set_overrides_a_field(small_scenario: Path, tmp_path: Path) -> None:
    code, _ = run("simulate", str(small_scenario), "--out", str(tmp_path / "slow"))
    assert code == 0
    code, _ = run("simulate", str(small_scenario), "--set", "workload.rate_scale=3",
                  "--out", str(tmp_path / "fast"))
    assert code == 0
    slow = pd.read_csv(tmp_path / "slow" / "requests.csv")
    fast = pd.read_csv(tmp_path / "fast" / "requests.csv")
    assert len(fast) > 2 * len(slow)


def test_parquet_tables_read_back_as_the_csv_ones(small_scenario, tmp_path) -> None:
    from click.testing import CliRunner

    from specsim.cli import main
    from specsim.results import read_result

    runs = {}
    for table_format in ("csv", "parquet"):
        out = tmp_path / table_format
        result = CliRunner().invoke(main, ["simulate", str(small_scenario), "--out", str(out),
                                           "--format", table_format])
        assert result.exit_code == 0, result.output
        assert (out / f"steps.{table_format}").exists()
        runs[table_format] = read_result(out)
    import pandas as pd

    pd.testing.assert_frame_equal(runs["csv"].requests, runs["parquet"].requests, check_dtype=False)
    pd.testing.assert_frame_equal(runs["csv"].steps, runs["parquet"].steps, check_dtype=False)
    assert runs["csv"].summary == runs["parquet"].summary
