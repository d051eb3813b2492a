"""A reduced `specsim validate` on this CPU, end to end: tiny real-weight pair → calibration →
real runs (realrun.serve) → simulator → error table and report.

Skipped only when the real engine (`realrun.serve`) is not importable.

How close the simulator comes to the real runs is a measurement of this machine (its speed drifts
by tens of percent within minutes; VALIDATION.md history), not a verdict on the code: this test holds the
flow and its tables, not a bound on the errors — those are `specsim validate`'s report. The exact
recovery of a machine's speed is tested deterministically in test_validate_flow.py.
"""

from __future__ import annotations

import math

import pytest

from specsim.scenario import scenario_from_dict
from specsim.validate.compare import METRICS
from specsim.validate.report import write_report
from specsim.validate.run import AT_REAL_SPEED, run_validation
from specsim.validate.speed import speed_ratios

serve_module = pytest.importorskip("realrun.serve", reason="the real engine (realrun.serve) is not built yet")

REDUCED = {
    "name": "validate-reduced",
    "decoding": "greedy",
    "cluster": {"max_batch_size": 4, "max_batch_tokens": 256, "kv_capacity_tokens": 4096},
    "workload": {"duration_s": 3.0, "arrival": {"kind": "poisson", "rate": 2.5},
                 "prompt_tokens": {"kind": "uniform", "low": 16, "high": 32},
                 "output_tokens": {"kind": "uniform", "low": 24, "high": 40},
                 "categories": {"chat": 1.0}},
    "slo": {"ttft_s": 0.5, "tpot_s": 0.05},
    "policies": ["fixed:k=2"],
    "drain_s": 60,
}


@pytest.fixture(scope="module")
def calibrated_pair(tmp_path_factory):
    import torch

    from calibrate import Grid, calibrate, make_tiny_pair

    # one thread, for the calibration and the real runs alike: on the shared 2-core machine a second
    # thread's barriers made one target forward ~10x slower under neighbours' load (2.9 s vs 0.30 s)
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tiny-pair")
    target_dir, draft_dir = make_tiny_pair(out)
    chat = [line for line in (out / "prompts.jsonl").read_text().splitlines() if '"chat"' in line]
    prompts = out / "chat.jsonl"
    prompts.write_text("\n".join(chat) + "\n")
    # a reduced grid covering the scenario's batches (≤ 4), contexts (≤ ~80) and k ≤ 2
    grid = Grid(batch_sizes=(1, 2, 4), context_tokens=(32, 96), tokens_per_request=(1, 2, 3),
                prefill_batch_sizes=(1, 2), prefill_prompt_tokens=(16, 32), warmup=1, repeats=7,
                budget_s=0.2, passes=2)
    profile = calibrate(target_dir, draft_dir, gpu="cpu", grid=grid, dataset=prompts, max_draft_tokens=2,
                        prompts_per_category=2, new_tokens=24, sampling=False, threads=1, progress=False)
    return target_dir, draft_dir, profile


def test_reduced_validate_on_cpu(calibrated_pair, tmp_path):
    target_dir, draft_dir, profile = calibrated_pair
    scenario = scenario_from_dict(REDUCED, "reduced")
    result = run_validation(scenario, profile=profile, target=target_dir, draft=draft_dir, repeats=2,
                            out=tmp_path, serve=serve_module.serve, progress=False)
    table = result.table.set_index("metric")
    assert list(table.index) == [key for key, *_ in METRICS]
    assert set(table["policy"]) == {"fixed:k=2"} and set(table["load"]) == {1.0}
    for metric in ("ttft_p50_s", "tpot_p50_s", "throughput_tokens_per_s", "mean_accepted_length"):
        row = table.loc[metric]
        for column in ("real", "sim", "replay", "error", "replay_error", "at_real_speed",
                       "at_real_speed_error", "model", "model_error", "noise"):
            assert math.isfinite(row[column]), (metric, column)
    # the replay run reproduces the real acceptance closely (the sampled sim need not)
    assert abs(table.loc["mean_accepted_length", "replay_error"]) < 0.1
    tpot = table.loc["tpot_p50_s"]
    print(f"median TPOT: real {tpot['real'] * 1e3:.2f} ms, sim {tpot['sim'] * 1e3:.2f} ms "
          f"(error {tpot['error']:+.1%}), replay error {tpot['replay_error']:+.1%}, "
          f"repeat noise {abs(tpot['noise']):.1%}")
    page = write_report(tmp_path / "report.html", "reduced", result.table, result.points, result.notes)
    assert page.read_text().count("Plotly.newPlot") == 1
    assert {p.name for p in (tmp_path / "runs" / "fixed_k=2@1").iterdir()} == \
        {"real", "real-repeat", "sim", "sim-replay", "sim-real-speed", "sim-model"}
    # the speed the real run ran at, read against its simulation at that speed: a positive ratio
    runs = result.points[0]["runs"]
    ratios = speed_ratios(runs["real"], runs[AT_REAL_SPEED])
    assert ratios.decode > 0 and math.isfinite(ratios.decode)
