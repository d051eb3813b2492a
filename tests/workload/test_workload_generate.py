"""generate_requests end to end: the Requests contract, determinism, mixes and trace replay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from specsim.errors import SpecsimError
from specsim.workload import Requests, WorkloadSpec, generate_requests

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "scenarios" / "traces"


def _spec(**changes: Any) -> WorkloadSpec:
    workload: dict[str, Any] = {
        "duration_s": 600,
        "arrival": {"kind": "gamma", "rate": 5.0, "cv": 2.0},
        "prompt_tokens": {"kind": "lognormal", "median": 400, "sigma": 1.0, "max": 4096},
        "output_tokens": {
            "kind": "zipf",
            "exponent": 1.6,
            "scale": 30,
            "max": 2048,
            "correlation_with_prompt": 0.3,
        },
        "categories": {"summarisation": 0.2, "chat": 0.5, "code": 0.3},
    }
    workload.update(changes)
    return WorkloadSpec.model_validate({key: value for key, value in workload.items() if value is not None})


def _generate(spec: WorkloadSpec, seed: int = 1, base_dir: Path = Path(".")) -> Requests:
    requests = generate_requests(spec, np.random.default_rng(seed), base_dir)
    count = len(requests)
    assert np.all(np.diff(requests.arrival_s) >= 0)
    for array, dtype in [
        (requests.arrival_s, np.float64),
        (requests.prompt_tokens, np.int64),
        (requests.output_tokens, np.int64),
        (requests.category, np.int64),
    ]:
        assert array.dtype == dtype and array.shape == (count,)
    assert count == 0 or (requests.prompt_tokens.min() >= 1 and requests.output_tokens.min() >= 1)
    assert requests.slo_ttft_s is None and requests.slo_tpot_s is None
    return requests


def test_same_seed_identical_other_seed_differs() -> None:
    first, again, other = _generate(_spec(), 42), _generate(_spec(), 42), _generate(_spec(), 43)
    for name in ("arrival_s", "prompt_tokens", "output_tokens", "category"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert len(first) != len(other) or not np.array_equal(first.arrival_s, other.arrival_s)
    assert not np.array_equal(first.prompt_tokens[:50], other.prompt_tokens[:50])


def test_category_names_keep_the_mix_order_and_shares() -> None:
    spec = _spec(arrival={"kind": "poisson", "rate": 100.0})
    requests = _generate(spec)
    assert requests.categories == ("summarisation", "chat", "code")
    shares = np.bincount(requests.category, minlength=3) / len(requests)
    # 60000 requests: each share's sd ≤ 0.2 %; 1 % is 5 sd
    np.testing.assert_allclose(shares, [0.2, 0.5, 0.3], atol=0.01)
    assert set(requests.category_names()) == {"summarisation", "chat", "code"}


def test_shares_need_not_sum_to_one() -> None:
    requests = _generate(_spec(arrival={"kind": "poisson", "rate": 100.0}, categories={"a": 3, "b": 1}))
    assert np.mean(requests.category == 0) == pytest.approx(0.75, abs=0.01)  # sd 0.18 %


def test_max_requests_keeps_the_first_by_arrival() -> None:
    full = _generate(_spec(), 9)
    capped = _generate(_spec(max_requests=100), 9)
    assert len(full) > 100 and len(capped) == 100
    np.testing.assert_array_equal(capped.arrival_s, full.arrival_s[:100])


def test_rate_scale_doubles_generated_traffic() -> None:
    base = len(_generate(_spec(arrival={"kind": "poisson", "rate": 10.0})))
    doubled = len(_generate(_spec(arrival={"kind": "poisson", "rate": 10.0}, rate_scale=2.0)))
    # 6000 vs 12000 Poisson counts: the ratio's sd is 1.6 %; 8 % is 5 sd
    assert doubled / base == pytest.approx(2.0, rel=0.08)


def test_correlation_shows_in_the_requests() -> None:
    requests = _generate(
        _spec(
            arrival={"kind": "poisson", "rate": 30.0},
            output_tokens={"kind": "lognormal", "median": 200, "sigma": 0.8, "correlation_with_prompt": 0.6},
        )
    )
    from scipy.stats import spearmanr

    # 18000 requests: sd ≈ 0.005; the prompt clamp at 4096 adds a few ties; 0.04 is ~8 sd
    assert spearmanr(requests.prompt_tokens, requests.output_tokens).statistic == pytest.approx(0.6, abs=0.04)


# ---------------------------------------------------------------------------------------- replay


def _trace_csv(tmp_path: Path, categories: bool = False) -> Path:
    rows = [
        f"{t},{10 + i},{1 + i}" + (f",{'code' if i % 3 == 0 else 'chat'}" if categories else "")
        for i, t in enumerate([0.0, 1.0, 2.0, 5.0, 10.0, 12.0, 20.0])
    ]
    header = "arrival_s,prompt_tokens,output_tokens" + (",category" if categories else "")
    path = tmp_path / "traces" / "t.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _replay(tmp_path: Path, trace: dict[str, Any], **workload: Any) -> Requests:
    spec = WorkloadSpec.model_validate(
        {"trace": {"format": "csv", "path": "traces/t.csv", **trace}, **workload}
    )
    return _generate(spec, base_dir=tmp_path)


def test_replay_resolves_the_path_and_keeps_the_trace(tmp_path: Path) -> None:
    _trace_csv(tmp_path)
    requests = _replay(tmp_path, {})
    np.testing.assert_array_equal(requests.arrival_s, [0, 1, 2, 5, 10, 12, 20])
    np.testing.assert_array_equal(requests.prompt_tokens, np.arange(10, 17))
    np.testing.assert_array_equal(requests.output_tokens, np.arange(1, 8))
    assert requests.categories == ("chat",) and np.all(requests.category == 0)


def test_time_scale_window_and_rate_scale(tmp_path: Path) -> None:
    _trace_csv(tmp_path)
    # time_scale 2 → [0, 2, 4, 10, 20, 24, 40]; window [4, 24) → [4, 10, 20]; rebased → [0, 6, 16]
    requests = _replay(tmp_path, {"time_scale": 2.0, "start_s": 4, "end_s": 24})
    np.testing.assert_array_equal(requests.arrival_s, [0, 6, 16])
    np.testing.assert_array_equal(requests.prompt_tokens, [12, 13, 14])
    # rate_scale divides the gaps after windowing; duration_s then cuts the replay
    faster = _replay(tmp_path, {"time_scale": 2.0, "start_s": 4, "end_s": 24}, rate_scale=2.0)
    np.testing.assert_array_equal(faster.arrival_s, [0, 3, 8])
    cut = _replay(tmp_path, {"time_scale": 2.0, "start_s": 4}, duration_s=16)
    np.testing.assert_array_equal(cut.arrival_s, [0, 6])
    first_two = _replay(tmp_path, {}, max_requests=2)
    np.testing.assert_array_equal(first_two.arrival_s, [0, 1])


def test_replay_clamps_and_mix_categories(tmp_path: Path) -> None:
    _trace_csv(tmp_path)
    requests = _replay(
        tmp_path, {"max_prompt_tokens": 12, "max_output_tokens": 3}, categories={"chat": 1, "code": 1}
    )
    np.testing.assert_array_equal(requests.prompt_tokens, [10, 11, 12, 12, 12, 12, 12])
    np.testing.assert_array_equal(requests.output_tokens, [1, 2, 3, 3, 3, 3, 3])
    assert requests.categories == ("chat", "code")


def test_replay_takes_categories_from_the_trace(tmp_path: Path) -> None:
    _trace_csv(tmp_path, categories=True)
    requests = _replay(tmp_path, {}, categories={"summarisation": 1})
    assert requests.categories == ("code", "chat")  # order of first appearance
    assert requests.category_names().tolist() == ["code", "chat", "chat", "code", "chat", "chat", "code"]


def test_an_empty_window_is_refused(tmp_path: Path) -> None:
    _trace_csv(tmp_path)
    with pytest.raises(SpecsimError, match=r"t\.csv: no requests in the replay window \[100 s, end\)"):
        _replay(tmp_path, {"start_s": 100})


def test_a_missing_trace_names_the_resolved_path(tmp_path: Path) -> None:
    spec = WorkloadSpec.model_validate({"trace": {"format": "burstgpt", "path": "traces/gone.csv"}})
    with pytest.raises(SpecsimError, match=r"gone\.csv: trace file not found"):
        generate_requests(spec, np.random.default_rng(0), tmp_path)


def test_empirical_lengths_resolve_relative_to_base_dir(tmp_path: Path) -> None:
    _trace_csv(tmp_path)
    spec = _spec(
        prompt_tokens={
            "kind": "empirical",
            "trace": {"format": "csv", "path": "traces/t.csv"},
            "column": "prompt_tokens",
        }
    )
    requests = _generate(spec, base_dir=tmp_path)
    assert set(np.unique(requests.prompt_tokens)) == set(range(10, 17))


# ---------------------------------------------------------------------------------- sample trace


def test_sample_trace_replays() -> None:
    spec = WorkloadSpec.model_validate(
        {"trace": {"format": "burstgpt", "path": "traces/sample_burstgpt.csv"}}
    )
    requests = _generate(spec, base_dir=REPO / "scenarios")
    assert 300 <= len(requests) <= 600
    assert 500 < requests.arrival_s[-1] < 600
    counts = np.bincount((requests.arrival_s // 10).astype(int))
    assert counts.var() / counts.mean() > 2  # bursty: a Poisson trace would be ≈ 1


def test_sample_trace_is_what_its_script_writes(tmp_path: Path) -> None:
    output = tmp_path / "sample.csv"
    subprocess.run(
        [sys.executable, str(TRACES / "make_sample_trace.py"), str(output)], check=True, capture_output=True
    )
    assert output.read_bytes() == (TRACES / "sample_burstgpt.csv").read_bytes(), (
        "regenerate with: python scenarios/traces/make_sample_trace.py"
    )


# -------------------------------------------------------------------------------- shared prefixes

def test_a_shared_prefix_pool_sends_each_prompt_again_with_its_length() -> None:
    pool = {"groups": 3, "prompts_per_group": 4, "system_prompt_tokens": 50}
    requests = _generate(_spec(shared_prefix=pool))
    again = _generate(_spec(shared_prefix=pool))
    assert (requests.prefix == again.prefix).all() and (requests.prompt_tokens == again.prompt_tokens).all()
    assert requests.prefixes is not None and len(requests.prefixes) == 3 + 12
    assert set(requests.prefix.tolist()) == set(range(3, 15))
    # a prompt is the same whenever it is sent: one length per pooled prompt, past the system prompt
    lengths = {node: set(requests.prompt_tokens[requests.prefix == node].tolist()) for node in range(3, 15)}
    assert all(len(seen) == 1 and min(seen) > 50 for seen in lengths.values())
    assert _generate(_spec()).prefix is None


def test_a_shared_prefix_cannot_be_given_with_a_trace() -> None:
    with pytest.raises(ValueError, match="must be absent when a trace is replayed"):
        WorkloadSpec.model_validate({"trace": {"format": "csv", "path": "x.csv"},
                                     "shared_prefix": {"groups": 1, "prompts_per_group": 1,
                                                       "system_prompt_tokens": 0}})
