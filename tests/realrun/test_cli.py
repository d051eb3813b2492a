"""`specsim realrun` through click: one run writes the tables; bad input is one line, exit 2."""

from __future__ import annotations

import pandas as pd
import yaml
from click.testing import CliRunner

from specsim.cli import main
from specsim.engine.records import REQUEST_COLUMNS


def _scenario_file(folder, **cluster) -> str:
    raw = {
        "name": "cli-test",
        "cluster": {"max_batch_size": 2, "max_batch_tokens": 256, "kv_capacity_tokens": 10_000, **cluster},
        "workload": {"max_requests": 3, "duration_s": 0.1, "arrival": {"kind": "poisson", "rate": 100},
                     "prompt_tokens": {"kind": "fixed", "value": 12},
                     "output_tokens": {"kind": "fixed", "value": 10}, "categories": {"code": 1}},
        "slo": {"ttft_s": 5.0, "tpot_s": 0.5},
        "policies": ["fixed:k=3"],
        "drain_s": 60,
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_cli_run_writes_tables(tiny_pair, tmp_path):
    _, target_dir, draft_dir = tiny_pair
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["realrun", _scenario_file(tmp_path), "--target", str(target_dir),
                                       "--draft", str(draft_dir), "--out", str(out), "--seed", "1",
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "3/3 requests finished" in result.output
    requests = pd.read_csv(out / "requests.csv")
    assert tuple(requests.columns) == REQUEST_COLUMNS
    assert (out / "steps.csv").is_file() and (out / "summary.json").is_file()
    assert pd.read_csv(out / "summary.csv")["policy"][0] == "fixed:k=3"


def test_cli_bad_input_is_one_line(tiny_pair, tmp_path):
    _, target_dir, _draft_dir = tiny_pair
    scenario = _scenario_file(tmp_path)
    for arguments, message in (
        (["--seed", "x"], "--seed x: expected an integer"),
        (["--policy", "nonsense"], "unknown policy"),
        ([], "--draft is required"),
    ):
        result = CliRunner().invoke(main, ["realrun", scenario, "--target", str(target_dir), *arguments])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
