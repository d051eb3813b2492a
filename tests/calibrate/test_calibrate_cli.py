"""`specsim calibrate` end to end on the CPU, and its one-line errors."""

import json

import pytest
from click.testing import CliRunner

from specsim.cli import main
from specsim.profile import load_profile

TINY = ("--target", "tiny-target", "--draft", "tiny-draft")


def invoke(*args):
    return CliRunner().invoke(main, ["calibrate", *args])


def test_quick_cpu_calibration_of_random_weights_has_no_acceptance(tmp_path):
    out = tmp_path / "cpu.json"
    result = invoke("--gpu", "cpu", "--quick", "--target", "tiny-target", "--draft", "tiny-draft",
                    "--threads", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    profile = load_profile(out)
    assert profile.acceptance is None and "acceptance not measured" in profile.notes
    assert profile.target.weights == "random" and profile.target.name == "tiny-target"
    assert profile.latency.verify.batch_sizes == [1, 2, 4, 8]
    assert profile.latency.verify.tokens_per_request == [1, 2, 3, 5, 9]
    assert profile.name == "cpu-tiny-target-tiny-draft"
    # the quick grid's four walks: the calibration's own resolution, said where it is made
    assert sorted(profile.latency.grid_walk_spread) == ["decode", "prefill"]
    assert "apart (decode)" in result.output and "apart (prefill)" in result.output


def test_acceptance_from_copies_another_profiles_acceptance(tmp_path, tiny_profile_path):
    out = tmp_path / "copied.json"
    result = invoke("--gpu", "cpu", "--quick", "--target", "tiny-target", "--draft", "tiny-draft",
                    "--threads", "1", "--acceptance-from", str(tiny_profile_path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert load_profile(out).acceptance == load_profile(tiny_profile_path).acceptance


def one_line_error(result, *fragments):
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_model_name(tmp_path):
    result = invoke("--gpu", "cpu", "--target", "llama-9000", "--draft", "tiny-draft",
                    "--out", str(tmp_path / "x"))
    one_line_error(result, "--target", "llama-9000", "tiny-target")


def test_missing_dataset_file(tmp_path):
    result = invoke("--gpu", "cpu", "--target", "tiny-target", "--draft", "tiny-draft",
                    "--dataset", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "x.json"))
    one_line_error(result, "--dataset", "absent.jsonl", "no such file")


def test_dataset_row_without_category(tmp_path):
    dataset = tmp_path / "prompts.jsonl"
    dataset.write_text(json.dumps({"category": "chat", "token_ids": [1, 2]}) + "\n"
                       + json.dumps({"token_ids": [3, 4]}) + "\n")
    result = invoke("--gpu", "cpu", "--target", "tiny-target", "--draft", "tiny-draft",
                    "--dataset", str(dataset), "--out", str(tmp_path / "x.json"))
    one_line_error(result, f"{dataset}:2", "category")


@pytest.mark.parametrize("args, fragment", [
    ([*TINY, "--out", "x.json"], "--gpu is required"),
    (["--gpu", "cpu", "--draft", "tiny-draft", "--out", "x.json"], "--target is required"),
    (["--gpu", "cpu", *TINY, "--out", "x.json", "--seed", "x"],
     "--seed x: expected an integer"),
    (["--gpu", "cpu", *TINY, "--out", "x.json",
      "--max-draft-tokens", "0"], "--max-draft-tokens 0"),
    (["--gpu", "cpu", *TINY, "--out", "x.json", "--dtype", "fp8"],
     "--dtype fp8"),
    (["--gpu", "cpu", "--device", "cuda", *TINY, "--out", "x.json"],
     "--gpu cpu with --device cuda"),
    (["--gpu", "cpu", *TINY, "--out", "x.json",
      "--acceptance-from", "absent.json"], "--acceptance-from absent.json: no such file"),
    (["--gpu", "cpu", *TINY, "--out", "x.json", "--policies", "none;fastest"],
     "--policies: unknown policy 'fastest'"),
])
def test_other_bad_flags(args, fragment):
    one_line_error(invoke(*args), fragment)


def test_a_gpu_label_without_cuda_is_refused(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("--gpu", "h100", *TINY, "--out", str(tmp_path / "x"))
    one_line_error(result, "--gpu h100", "no CUDA device")


def test_mismatched_gpu_label_is_refused(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    result = invoke("--gpu", "a100", *TINY, "--out", str(tmp_path / "x"))
    one_line_error(result, "--gpu a100", "H100", "--force")
