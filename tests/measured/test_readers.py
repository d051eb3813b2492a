"""The benchmark readers rebuild what a run sent and read what it measured; anything else is
refused with one line naming the file and the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from specsim.errors import SpecsimError
from specsim.measured import read_benchmark
from specsim.profile import DEFAULT_PROFILE, SHIPPED_DIR
from tests.test_safe_yaml import alias_bomb

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inference-perf"
CODEGEN = FIXTURES / "20260217-155451-llama-2-7b-tp1-codegen"


def test_an_inference_perf_run_is_rebuilt_from_its_configuration() -> None:
    run = read_benchmark(CODEGEN)
    assert run.benchmark == "inference-perf"
    assert (run.max_num_seqs, run.max_num_batched_tokens) == (128, 2048)
    requests = run.requests
    assert len(requests) == 3000 + 6000
    assert [(s.first, s.end) for s in run.stages] == [(0, 3000), (3000, 9000)]
    # constant load: evenly spaced sends; stage 1 starts after stage 0's slowest request finished
    assert np.allclose(np.diff(requests.arrival_s[:3000]), 0.2)
    assert requests.arrival_s[3000] == pytest.approx(599.8 + 2.29404, abs=1e-3)
    assert (requests.output_tokens == 247).all()
    # 10 × 10 pooled prompts sent in turn: request n and n + 100 send the same prompt
    assert len(set(requests.prefix.tolist())) == 100
    assert (requests.prefix[:100] == requests.prefix[100:200]).all()
    assert 580 <= requests.prompt_tokens.min() and requests.prompt_tokens.max() <= 604
    stage = run.stages[0].measured
    assert stage["mean_e2e_s"] == pytest.approx(1.8103224)
    assert stage["mean_tpot_s"] == pytest.approx((1.8103224 - 0.0250366) / 246, rel=1e-6)
    # ≈ 2 stream events per token: the reported median TPOT doubled
    assert stage["median_tpot_s"] == pytest.approx(2 * 0.0035762, rel=0.01)
    assert any("2.010 stream events per token" in note for note in run.notes)


def bench(tmp_path: Path, **changes) -> Path:
    document = {"request_rate": 2.0, "burstiness": 1.0, "input_lens": [100, 120, 90],
                "output_lens": [10, 12, 8], "ttfts": [0.03, 0.04, 0.03],
                "itls": [[0.01] * 9, [0.01] * 11, [0.01] * 7], "errors": ["", "", ""]}
    document.update(changes)
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(document))
    return path


def test_a_vllm_bench_result_gives_its_requests_and_metrics(tmp_path: Path) -> None:
    run = read_benchmark(bench(tmp_path))
    assert run.benchmark == "vllm-bench" and len(run.requests) == 3
    assert run.stages[0].measured["mean_ttft_s"] == pytest.approx(0.1 / 3)
    assert run.stages[0].measured["median_tpot_s"] == pytest.approx(0.01)
    assert np.all(np.diff(run.requests.arrival_s) > 0)  # drawn from the rate, from the seed
    assert (read_benchmark(bench(tmp_path)).requests.arrival_s == run.requests.arrival_s).all()


def refusal(path: Path) -> str:
    with pytest.raises(SpecsimError) as caught:
        read_benchmark(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def inference_perf_copy(tmp_path: Path, edit_config=None, edit_stage=None) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(CODEGEN, folder)
    if edit_config is not None:
        config = folder / "results" / "config.yaml"
        config.write_text(edit_config(config.read_text()))
    if edit_stage is not None:
        stage = folder / "results" / "stage_0_lifecycle_metrics.json"
        document = json.loads(stage.read_text())
        edit_stage(document)
        stage.write_text(json.dumps(document))
    return folder


@pytest.mark.parametrize(("make", "expected"), [
    (lambda tmp: bench(tmp, ttfts=[0.03, 0.04]), "ttfts: 2 entries, but input_lens has 3"),
    (lambda tmp: bench(tmp, errors=["timeout"] * 3), "errors: no request of the run succeeded"),
    (lambda tmp: bench(tmp, max_concurrency=1), "max_concurrency: 1 clients"),
    (lambda tmp: bench(tmp, output_lens=[10, -1, 8]), "output_lens: every entry must be an integer ≥ 0"),
    (lambda tmp: bench(tmp, request_rate=-2), "request_rate: must be a number > 0"),
    (lambda tmp: bench(tmp, itls=[[0.01], "x", [0.01]]), "itls.1: must be a list"),
    (lambda tmp: _copy(SHIPPED_DIR / f"{DEFAULT_PROFILE}.json", tmp),
     "not a benchmark result this specsim reads"),
    (lambda tmp: _write(tmp / "b.json", b"\xff\xfe\x00binary"),
     "not a benchmark result (UnicodeDecodeError)"),
    (lambda tmp: _copy(CODEGEN / "results" / "stage_0_lifecycle_metrics.json", tmp),
     "one stage of an inference-perf run; give the run's folder"),
    (lambda tmp: tmp, "a folder without results/config.yaml"),
    (lambda tmp: config_with(tmp, "ignore_eos: true", "ignore_eos: false"),
     "server.ignore_eos: must be true"),
    (lambda tmp: config_with(tmp, "type: shared_prefix", "type: sharegpt"),
     "data.type: 'sharegpt' is not read yet"),
    (lambda tmp: inference_perf_copy(tmp, edit_stage=lambda d: d["successes"].update(count=0)),
     "successes.count: the stage has no successful request"),
    (lambda tmp: inference_perf_copy(tmp, edit_stage=lambda d: d["successes"].update(count=99999)),
     "successes.count: 99999 requests, but the configuration sends 3000"),
    (lambda tmp: inference_perf_copy(tmp, edit_stage=_drop_e2e),
     "successes.latency.request_latency: missing"),
    (lambda tmp: inference_perf_copy(tmp, edit_config=lambda text: alias_bomb()),
     "the YAML expands to over 100,000 values"),
])
def test_bad_benchmark_input_is_one_line_naming_the_file_and_field(tmp_path: Path, make,
                                                                   expected: str) -> None:
    assert expected in refusal(make(tmp_path))


def test_a_run_missing_a_stage_file_names_it(tmp_path: Path) -> None:
    folder = inference_perf_copy(tmp_path)
    (folder / "results" / "stage_1_lifecycle_metrics.json").unlink()
    with pytest.raises(SpecsimError, match=r"stage_1_lifecycle_metrics\.json: missing"):
        read_benchmark(folder)


def _drop_e2e(document: dict) -> None:
    document["successes"]["latency"].pop("request_latency")


def config_with(tmp_path: Path, old: str, new: str) -> Path:
    return inference_perf_copy(tmp_path, edit_config=lambda text: text.replace(old, new))


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _copy(source: Path, folder: Path) -> Path:
    target = folder / source.name
    shutil.copy(source, target)
    return target
