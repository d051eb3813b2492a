"""Bad input: one line naming the file and the field, exit code 2, never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from specsim.cli import main
from specsim.profile import load_profile
from tests.cli.conftest import SMALL_SCENARIO, write_scenario
from tests.test_safe_yaml import alias_bomb


def scenario_with(tmp_path: Path, path: str, value: Any) -> Path:
    raw = copy.deepcopy(SMALL_SCENARIO)
    node = raw
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part] if not isinstance(node, list) else node[int(part)]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return write_scenario(tmp_path, raw, "bad.yaml")


DELETE = object()


def error_line(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    message = result.output.strip()
    assert message.startswith("error: ") or message.startswith("Usage:"), message
    if message.startswith("error: "):
        assert "\n" not in message, message
        assert "Traceback" not in message
    return message


CASES: list[tuple[str, str, Any, list[str]]] = [
    # (id, dotted field, bad value, what the message must name)
    ("negative rate", "workload.arrival.rate", -3, ["bad.yaml", "workload.arrival.rate", "-3"]),
    ("unknown policy", "policies", ["none", "fastest"], ["bad.yaml", "policies.1", "fastest"]),
    ("policy parameter typo", "policies", ["fixed:kk=3"], ["bad.yaml", "policies.0", "kk"]),
    ("policy parameter type", "policies", ["fixed:k=many"], ["bad.yaml", "policies.0", "many"]),
    ("unknown field", "cluster.replica", 2, ["bad.yaml", "cluster.replica"]),
    ("missing field", "slo.tpot_s", DELETE, ["bad.yaml", "slo.tpot_s"]),
    ("zero batch", "cluster.max_batch_size", 0, ["bad.yaml", "cluster.max_batch_size"]),
    ("unknown router", "cluster.router", "random", ["bad.yaml", "cluster.router"]),
    ("grid path typo", "sweep.grid", {"workload.arival.rate": [1]}, ["bad.yaml", "sweep.grid", "arival"]),
    ("grid value invalid", "sweep.grid", {"workload.rate_scale": [1, -2]},
     ["bad.yaml", "sweep.grid", "workload.rate_scale=-2"]),
    ("unknown profile", "profile", "h900-nothing", ["bad.yaml", "profile", "h900-nothing"]),
    ("NaN SLO", "slo.ttft_s", float("nan"), ["bad.yaml", "slo.ttft_s"]),
    ("huge batch", "cluster.max_batch_size", 1_000_000_000, ["bad.yaml", "cluster.max_batch_size"]),
    ("millions of replicas", "cluster.replicas", 5_000_000, ["bad.yaml", "cluster.replicas"]),
    ("negative seed in seeds", "seeds", [0, -1], ["bad.yaml", "seeds.1"]),
    ("workload too large", "workload.duration_s", 1e12, ["bad.yaml", "workload", "duration_s"]),
]


@pytest.mark.parametrize(("field", "value", "named"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_scenario_field(tmp_path: Path, field: str, value: Any, named: list[str]) -> None:
    path = scenario_with(tmp_path, field, value)
    message = error_line(["simulate", str(path), "--out", str(tmp_path / "out")])
    for part in named:
        assert part in message, (part, message)
    assert not (tmp_path / "out").exists()


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncluster: {replicas: 1\nslo: 3\n")
    message = error_line(["simulate", str(path)])
    assert "broken.yaml" in message and "line" in message


def test_scenario_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    assert "mapping" in error_line(["sweep", str(path)])


def test_missing_scenario_file(tmp_path: Path) -> None:
    assert "nowhere.yaml" in error_line(["simulate", str(tmp_path / "nowhere.yaml")])


def test_unknown_policy_on_the_command_line(small_scenario: Path) -> None:
    message = error_line(["simulate", str(small_scenario), "--policy", "warp:k=2"])
    assert "warp" in message and "known" in message


def test_negative_seed_and_bad_set(small_scenario: Path) -> None:
    assert "--seed" in error_line(["simulate", str(small_scenario), "--seed", "-1"])
    assert "--set" in error_line(["simulate", str(small_scenario), "--set", "no-equals-sign"])
    assert "cluster.replicas" in error_line(["simulate", str(small_scenario), "--set", "cluster.replicas=-1"])


def test_zero_jobs(small_scenario: Path) -> None:
    assert "--jobs" in error_line(["sweep", str(small_scenario), "--jobs", "0"])


def test_trace_with_a_missing_column(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,prompt_tokens\n0.5,100\n1.0,120\n")
    raw = copy.deepcopy(SMALL_SCENARIO)
    raw["workload"] = {"trace": {"format": "csv", "path": "trace.csv"}}
    path = write_scenario(tmp_path, raw, "replay.yaml")
    message = error_line(["simulate", str(path)])
    assert "trace.csv" in message and "output_tokens" in message


def test_profile_of_the_wrong_schema(tmp_path: Path) -> None:
    document = json.loads(load_profile("h100-llama2-7b-llama-68m").model_dump_json())
    document["schema_version"] = 99
    (tmp_path / "old.json").write_text(json.dumps(document))
    raw = copy.deepcopy(SMALL_SCENARIO)
    raw["profile"] = "old.json"
    path = write_scenario(tmp_path, raw, "with_profile.yaml")
    message = error_line(["simulate", str(path)])
    assert "old.json" in message and "schema_version" in message


def test_sweep_refuses_a_folder_of_another_sweep(small_scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"source": "other.yaml", "fingerprint": "0"}))
    message = error_line(["sweep", str(small_scenario), "--out", str(out), "--jobs", "1"])
    assert "different sweep" in message


# -- files that are not what they should be, and where results cannot go ------------------------

def test_a_scenario_or_profile_that_is_not_text(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81 not yaml")
    assert "binary.yaml" in error_line(["simulate", str(binary)])
    raw = copy.deepcopy(SMALL_SCENARIO)
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    raw["profile"] = "binary.json"
    message = error_line(["simulate", str(write_scenario(tmp_path, raw, "s.yaml"))])
    assert "s.yaml: profile" in message and "binary.json" in message and "UTF-8" in message
    raw["profile"] = str(tmp_path)
    assert "a folder, not a profile" in error_line(["simulate", str(write_scenario(tmp_path, raw, "s.yaml"))])


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    message = error_line(["simulate", str(path)])
    assert "bomb.yaml" in message and "expands" in message


def test_a_profile_with_negative_latencies(tmp_path: Path) -> None:
    document = json.loads(load_profile("h100-llama2-7b-llama-68m").model_dump_json())
    document["latency"]["verify"]["time_s"][0][0][0] = -0.001
    (tmp_path / "negative.json").write_text(json.dumps(document))
    raw = copy.deepcopy(SMALL_SCENARIO)
    raw["profile"] = "negative.json"
    message = error_line(["simulate", str(write_scenario(tmp_path, raw, "s.yaml"))])
    assert "negative.json" in message and "latency.verify" in message and "≥ 0" in message


@pytest.mark.parametrize("command", [
    ["simulate", "{scenario}", "--out", "{file}/run"],
    ["simulate", "{scenario}", "--out", "{file}"],
    ["sweep", "{scenario}", "--out", "{file}/sweep", "--jobs", "1"],
    ["calibrate", "--gpu", "cpu", "--target", "cpu-target", "--draft", "cpu-draft", "--out", "{file}/p.json"],
    ["profile", "roofline", "--gpu", "h100", "--target", "llama2-7b", "--draft", "llama-68m",
     "--out", "{file}/p.json"],
])
def test_results_cannot_go_under_a_file(small_scenario: Path, tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder would be made")
    args = [part.format(scenario=small_scenario, file=blocker) for part in command]
    message = error_line(args)
    assert "--out" in message and "blocker" in message and "file" in message


def test_a_scheduler_that_is_not_an_address(small_scenario: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    args = ["sweep", str(small_scenario), "--scheduler", "notaurl", "--out", str(tmp_path / "s")]
    assert "--scheduler notaurl" in error_line(args)


def test_more_decoding_rows_than_a_simulation_holds(small_scenario: Path) -> None:
    message = error_line(["simulate", str(small_scenario), "--set", "cluster.replicas=4000",
                          "--set", "cluster.max_batch_size=300"])
    assert "small.yaml" in message and "cluster" in message and "decoding rows" in message
