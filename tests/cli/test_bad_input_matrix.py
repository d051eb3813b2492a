"""Every entry point refuses bad input in one line naming the file and the field or flag, exit 2,
no traceback and nothing written — a table of cases over scenarios, traces, profiles, prompt
sets, benchmark runs and flags; a new entry point adds its rows here.

Each case builds its input in a scratch folder and names what the message must contain."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from specsim.cli import main
from specsim.profile import DEFAULT_PROFILE, SHIPPED_DIR
from tests.cli.conftest import SMALL_SCENARIO

Build = Callable[[Path], list[str]]


def scenario(tmp: Path, name: str = "s.yaml", **changes: Any) -> Path:
    """SMALL_SCENARIO with dotted-path changes (value None deletes the field)."""
    raw = copy.deepcopy(SMALL_SCENARIO)
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    target = tmp / name
    target.write_text(yaml.safe_dump(raw))
    return target


def text_file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def trace_scenario(tmp: Path, trace: str | bytes, fmt: str = "csv") -> Path:
    text_file(tmp, "trace.csv", trace)
    return scenario(tmp, workload={"trace": {"format": fmt, "path": "trace.csv"}})


def profile_scenario(tmp: Path, edit: Callable[[dict], None]) -> Path:
    document = json.loads((SHIPPED_DIR / f"{DEFAULT_PROFILE}.json").read_text())
    edit(document)
    text_file(tmp, "p.json", json.dumps(document))
    return scenario(tmp, profile="p.json")


def faster_than_the_hardware(document: dict) -> None:
    """A fused engine that moves bytes faster than its datasheet's bandwidth."""
    engine = json.loads((SHIPPED_DIR / "h100-llama2-7b-llama-68m.json").read_text())["engine"]
    engine["roofline"]["bandwidth_efficiency"] = 1.5
    document.update(schema_version=2, engine=engine)


def simulate(path: Path, *flags: str) -> list[str]:
    return ["simulate", str(path), *flags]


def prompts(tmp: Path, lines: str) -> list[str]:
    path = text_file(tmp, "prompts.jsonl", lines)
    return ["calibrate", "--gpu", "cpu", "--target", "cpu-target", "--draft", "cpu-draft", "--quick",
            "--dataset", str(path), "--out", str(tmp / "out.json")]


FIT = ["calibrate", "--gpu", "h100", "--target", "llama2-7b", "--draft", "llama-68m"]

CASES: list[tuple[str, Build, list[str]]] = [
    # -- scenario files --------------------------------------------------------------------------
    ("scenario: missing file", lambda t: simulate(t / "nowhere.yaml"), ["nowhere.yaml"]),
    ("scenario: a folder", lambda t: simulate(t), ["cannot read scenario"]),
    ("scenario: binary", lambda t: simulate(text_file(t, "b.yaml", b"\xff\xfe\x00")), ["b.yaml", "UTF-8"]),
    ("scenario: malformed YAML", lambda t: simulate(text_file(t, "m.yaml", "a: [1, 2\nb: 3\n")),
     ["m.yaml", "line"]),
    ("scenario: a list", lambda t: simulate(text_file(t, "l.yaml", "- 1\n- 2\n")), ["l.yaml", "mapping"]),
    ("scenario: empty", lambda t: simulate(text_file(t, "e.yaml", "")), ["e.yaml", "mapping"]),
    ("scenario: unknown top-level field", lambda t: simulate(scenario(t, speed=3)), ["s.yaml", "speed"]),
    ("scenario: missing workload", lambda t: simulate(scenario(t, workload=None)), ["s.yaml", "workload"]),
    ("scenario: negative rate", lambda t: simulate(scenario(t, workload__arrival={"kind": "poisson", "rate": -3})),
     ["s.yaml", "workload.arrival.rate"]),
    ("scenario: unknown arrival kind", lambda t: simulate(scenario(t, workload__arrival={"kind": "lumpy"})),
     ["s.yaml", "workload.arrival"]),
    ("scenario: prompt max below min",
     lambda t: simulate(scenario(t, workload__prompt_tokens={"kind": "fixed", "value": 5, "min": 9, "max": 3})),
     ["s.yaml", "workload.prompt_tokens.max"]),
    ("scenario: empty category mix", lambda t: simulate(scenario(t, workload__categories={})),
     ["s.yaml", "workload.categories"]),
    ("scenario: shared prefix with no groups",
     lambda t: simulate(scenario(t, workload__shared_prefix={"groups": 0, "prompts_per_group": 2,
                                                               "system_prompt_tokens": 10})),
     ["s.yaml", "workload.shared_prefix.groups"]),
    ("scenario: zero SLO", lambda t: simulate(scenario(t, slo__tpot_s=0)), ["s.yaml", "slo.tpot_s"]),
    ("scenario: SLO class without share",
     lambda t: simulate(scenario(t, slo__classes=[{"name": "a", "ttft_s": 1, "tpot_s": 0.1}])),
     ["s.yaml", "slo.classes.0.share"]),
    ("scenario: no policies", lambda t: simulate(scenario(t, policies=[])), ["s.yaml", "policies"]),
    ("scenario: bad policy value", lambda t: simulate(scenario(t, policies=["adaptive:gate=soft"])),
     ["s.yaml", "policies.0", "gate"]),
    ("scenario: budget under the batch", lambda t: simulate(scenario(t, cluster__max_batch_tokens=4)),
     ["s.yaml", "max_batch_tokens"]),
    ("scenario: zero KV capacity", lambda t: simulate(scenario(t, cluster__kv_capacity_tokens=0)),
     ["s.yaml", "cluster.kv_capacity_tokens"]),
    ("scenario: KV too small for a request", lambda t: simulate(scenario(t, cluster__kv_capacity_tokens=50)),
     ["s.yaml", "cluster.kv_capacity_tokens", "largest request"]),
    ("scenario: negative drain", lambda t: simulate(scenario(t, drain_s=-1)), ["s.yaml", "drain_s"]),
    ("scenario: grid over an unknown field",
     lambda t: simulate(scenario(t, sweep={"grid": {"cluster.replica": [1]}})), ["s.yaml", "sweep.grid"]),
    ("scenario: empty grid axis", lambda t: simulate(scenario(t, sweep={"grid": {"workload.rate_scale": []}})),
     ["s.yaml", "sweep"]),
    ("scenario: seed too large", lambda t: simulate(scenario(t, seeds=[2**64])), ["s.yaml", "seeds.0"]),
    # -- traces ----------------------------------------------------------------------------------
    ("trace: missing file", lambda t: simulate(scenario(t, workload={"trace": {"format": "csv", "path": "x.csv"}})),
     ["x.csv"]),
    ("trace: missing column", lambda t: simulate(trace_scenario(t, "arrival_s,prompt_tokens\n0.5,100\n")),
     ["trace.csv", "output_tokens"]),
    ("trace: a bad number", lambda t: simulate(trace_scenario(t, "arrival_s,prompt_tokens,output_tokens\n"
                                                                 "0.5,100,20\nsoon,100,20\n")),
     ["trace.csv", "line 3"]),
    ("trace: negative length", lambda t: simulate(trace_scenario(t, "arrival_s,prompt_tokens,output_tokens\n"
                                                                    "0.5,-100,20\n")),
     ["trace.csv", "prompt_tokens"]),
    ("trace: binary", lambda t: simulate(trace_scenario(t, b"\xff\xfe\x00\x01")), ["trace.csv"]),
    ("trace: unknown format", lambda t: simulate(trace_scenario(t, "a\n1\n", fmt="sharegpt")),
     ["s.yaml", "workload.trace.format"]),
    # -- profiles --------------------------------------------------------------------------------
    ("profile: unknown name", lambda t: simulate(scenario(t, profile="h900-none")), ["s.yaml", "profile", "h900-none"]),
    ("profile: a folder", lambda t: simulate(scenario(t, profile=str(t))), ["a folder, not a profile"]),
    ("profile: not JSON", lambda t: (text_file(t, "p.json", "{nope"), simulate(scenario(t, profile="p.json")))[1],
     ["p.json", "JSON"]),
    ("profile: wrong schema", lambda t: simulate(profile_scenario(t, lambda d: d.update(schema_version=7))),
     ["p.json", "schema_version"]),
    ("profile: missing section", lambda t: simulate(profile_scenario(t, lambda d: d.pop("latency"))),
     ["p.json", "latency"]),
    ("profile: NaN in a grid",
     lambda t: simulate(profile_scenario(t, lambda d: d["latency"]["draft_step"]["time_s"][0].__setitem__(0, "NaN"))),
     ["p.json", "latency.draft_step"]),
    ("profile: negative time",
     lambda t: simulate(profile_scenario(t, lambda d: d["latency"]["verify"]["time_s"][0][0].__setitem__(0, -1))),
     ["p.json", "≥ 0"]),
    ("profile: engine in a version-1 file",
     lambda t: simulate(profile_scenario(t, lambda d: d.update(schema_version=1, engine={"name": "x", "composition": "separate"}))),
     ["p.json", "schema_version 2"]),
    ("profile: fused engine without its roofline",
     lambda t: simulate(profile_scenario(t, lambda d: d.update(schema_version=2,
                                                               engine={"name": "x", "composition": "fused"}))),
     ["p.json", "engine", "roofline"]),
    ("profile: efficiency above 1", lambda t: simulate(profile_scenario(t, faster_than_the_hardware)),
     ["p.json", "bandwidth_efficiency"]),
    # -- prompt sets (calibrate --dataset) --------------------------------------------------------
    ("prompts: not JSON", lambda t: prompts(t, "{oops\n"), ["prompts.jsonl:1"]),
    ("prompts: no category", lambda t: prompts(t, '{"text": "hello"}\n'), ["prompts.jsonl", "category"]),
    ("prompts: text and ids", lambda t: prompts(t, '{"category": "chat", "text": "a", "token_ids": [1]}\n'),
     ["prompts.jsonl:1"]),
    ("prompts: negative id", lambda t: prompts(t, '{"category": "chat", "token_ids": [1, -2]}\n'),
     ["prompts.jsonl", "token_ids"]),
    # -- benchmark runs (calibrate --from-benchmark) ---------------------------------------------
    ("benchmark: missing", lambda t: [*FIT, "--out", str(t / "o.json"), "--from-benchmark", str(t / "nothing")],
     ["nothing", "no such file"]),
    ("benchmark: a scenario", lambda t: [*FIT, "--out", str(t / "o.json"), "--from-benchmark",
                                         str(text_file(t, "x.json", '{"name": 1}'))], ["x.json", "not a benchmark"]),
    ("benchmark: counts that disagree",
     lambda t: [*FIT, "--out", str(t / "o.json"), "--from-benchmark", str(text_file(t, "b.json", json.dumps(
         {"input_lens": [1, 2], "output_lens": [3, 3], "ttfts": [0.1], "itls": [[], []]})))],
     ["b.json", "ttfts"]),
    ("benchmark: bad policy", lambda t: [*FIT, "--out", str(t / "o.json"), "--benchmark-policy", "warp",
                                         "--from-benchmark", str(t)], ["--benchmark-policy", "warp"]),
    # -- flags -----------------------------------------------------------------------------------
    ("simulate: unknown policy", lambda t: simulate(scenario(t), "--policy", "warp:k=2"), ["warp"]),
    ("simulate: negative seed", lambda t: simulate(scenario(t), "--seed", "-1"), ["--seed"]),
    ("simulate: --set without =", lambda t: simulate(scenario(t), "--set", "cluster.replicas"), ["--set"]),
    ("simulate: --set to a bad value", lambda t: simulate(scenario(t), "--set", "cluster.replicas=-1"),
     ["cluster.replicas"]),
    ("simulate: --set an unknown path", lambda t: simulate(scenario(t), "--set", "cluster.nodes.x=1"),
     ["cluster.nodes.x"]),
    ("simulate: unknown --profile", lambda t: simulate(scenario(t), "--profile", "h900"), ["h900"]),
    ("simulate: --format xml", lambda t: simulate(scenario(t), "--format", "xml"), ["--format", "xml"]),
    ("simulate: --trace at a folder", lambda t: simulate(scenario(t), "--trace", str(t)), ["--trace"]),
    ("sweep: zero jobs", lambda t: ["sweep", str(scenario(t)), "--jobs", "0"], ["--jobs"]),
    ("sweep: jobs and scheduler", lambda t: ["sweep", str(scenario(t)), "--jobs", "2", "--scheduler", "tcp://x:1"],
     ["--jobs", "--scheduler"]),
    ("calibrate: no --gpu", lambda t: ["calibrate", "--target", "a", "--draft", "b", "--out", str(t / "o.json")],
     ["--gpu"]),
    ("calibrate: --max-draft-tokens 0", lambda t: ["calibrate", "--gpu", "cpu", "--target", "cpu-target", "--draft",
                                                   "cpu-draft", "--out", str(t / "o.json"), "--max-draft-tokens", "0"],
     ["--max-draft-tokens"]),
    ("calibrate: --out a folder", lambda t: ["calibrate", "--gpu", "cpu", "--target", "a", "--draft", "b", "--out",
                                             str(t)], ["--out", "folder"]),
    ("calibrate: fit flag without a fit", lambda t: ["calibrate", "--gpu", "cpu", "--target", "a", "--draft", "b",
                                                     "--out", str(t / "o.json"), "--max-num-seqs", "4"],
     ["--max-num-seqs", "--from-benchmark"]),
    ("calibrate: --max-num-seqs 0", lambda t: [*FIT, "--out", str(t / "o.json"), "--from-benchmark", str(t),
                                              "--max-num-seqs", "0"], ["--max-num-seqs"]),
    ("profile roofline: unknown target", lambda t: ["profile", "roofline", "--gpu", "h100", "--target", "nope",
                                                    "--draft", "llama-68m", "--out", str(t / "p.json")], ["nope"]),
    ("profile show: unknown profile", lambda t: ["profile", "show", "h900-none"], ["h900-none"]),
    ("realrun: no target", lambda t: ["realrun", str(scenario(t))], ["--target"]),
    ("validate: missing dataset", lambda t: ["validate", str(scenario(t)), "--target", "a", "--draft", "b",
                                             "--calibrate", "--dataset", str(t / "none.jsonl")],
     ["--dataset", "none.jsonl"]),
]


@pytest.mark.parametrize(("build", "named"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, build: Build, named: list[str]) -> None:
    args = build(tmp_path)
    before = {path for path in tmp_path.rglob("*")}
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    message = lines[-1] if lines else ""
    assert message.startswith("error: ") or message.startswith("Usage:") or "Error:" in message, result.output
    assert "Traceback" not in result.output
    for part in named:
        assert part in result.output, (part, result.output)
    written = {path for path in tmp_path.rglob("*")} - before
    assert not [path for path in written if path.suffix in (".csv", ".json", ".parquet", ".html")], written


def test_the_matrix_covers_every_kind_of_input() -> None:
    kinds = {case[0].split(":")[0] for case in CASES}
    assert len(CASES) >= 60
    assert {"scenario", "trace", "profile", "prompts", "benchmark", "simulate", "sweep", "calibrate",
            "profile roofline", "realrun", "validate"} <= kinds
