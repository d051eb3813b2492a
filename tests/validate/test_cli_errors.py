"""Every flag error is one line on stderr, `error: …`, exit 2 — checked before anything runs."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from specsim.cli import main

from .conftest import SHIPPED, small_scenario


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "scenario.yaml"
    path.write_text(yaml.safe_dump(small_scenario().raw()))
    return str(path)


def base(scenario_file):
    return [scenario_file, "--target", "tiny-target", "--draft", "tiny-draft", "--profile", SHIPPED]


CASES = {
    "no scenario": (lambda s: ["--target", "tiny-target"], "a SCENARIO file is required"),
    "missing scenario file": (lambda s: ["nope.yaml", "--target", "a", "--draft", "b", "--profile", SHIPPED],
                              "nope.yaml: cannot read scenario"),
    "no target": (lambda s: [s, "--draft", "tiny-draft", "--profile", SHIPPED], "--target is required"),
    "no draft": (lambda s: [s, "--target", "tiny-target", "--profile", SHIPPED], "--draft is required"),
    "unknown model": (lambda s: [s, "--target", "/no/such/model", "--draft", "tiny-draft", "--profile",
                                 SHIPPED], "--target:"),
    "no profile": (lambda s: [s, "--target", "tiny-target", "--draft", "tiny-draft"],
                   "give --profile PROFILE or --calibrate"),
    "both profile and calibrate": (lambda s: [*base(s), "--calibrate"], "exclude each other"),
    "missing profile": (lambda s: [s, "--target", "tiny-target", "--draft", "tiny-draft", "--profile",
                                   "/no/such.json"], "no/such.json"),
    "dataset without calibrate": (lambda s: [*base(s), "--dataset", "x.jsonl"], "--dataset is used by"),
    "gpu without calibrate": (lambda s: [*base(s), "--gpu", "h100"], "--gpu is used by --calibrate only"),
    "bad load": (lambda s: [*base(s), "--loads", "0.5,fast"], "--loads 0.5,fast: 'fast' is not a number"),
    "negative load": (lambda s: [*base(s), "--loads", "-1"], "must be a positive rate scale"),
    "empty loads": (lambda s: [*base(s), "--loads", ","], "--loads: no value given"),
    "unknown policy": (lambda s: [*base(s), "--policies", "none;magic"], "unknown policy 'magic'"),
    "bad policy argument": (lambda s: [*base(s), "--policies", "fixed:q=2"], "has no parameter 'q'"),
    "bad seed": (lambda s: [*base(s), "--seed", "x"], "--seed x: expected an integer"),
    "zero threads": (lambda s: [*base(s), "--threads", "0"], "--threads 0: must be at least 1"),
    "zero repeats": (lambda s: [*base(s), "--repeats", "0"], "--repeats 0: must be at least 1"),
    "bad threshold": (lambda s: [*base(s), "--max-p99-error", "ten"], "--max-p99-error ten: expected"),
    "negative threshold": (lambda s: [*base(s), "--max-median-error", "-1"], "must be a non-negative number"),
    "bad device": (lambda s: [*base(s), "--device", "tpu"], "--device tpu: expected cpu, cuda or cuda:N"),
    "unknown option": (lambda s: [*base(s), "--fast"], "No such option '--fast'"),
    "option without value": (lambda s: [*base(s), "--seed"], "requires an argument"),
    "extra argument": (lambda s: [*base(s), "other.yaml"], "unexpected extra argument"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_2(case, scenario_file, tmp_path):
    make_args, expected = CASES[case]
    result = CliRunner().invoke(main, ["validate", "--out", str(tmp_path / "o"), *make_args(scenario_file)])
    assert result.exit_code == 2, (case, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (case, result.stderr)
    assert expected.lower() in lines[0].lower(), (case, lines[0])
    assert not (tmp_path / "o").exists()  # nothing ran


def test_out_must_be_a_folder(scenario_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["validate", *base(scenario_file), "--out", str(blocker)])
    assert result.exit_code == 2 and result.stderr.startswith("error: --out")
