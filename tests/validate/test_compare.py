"""The error table's arithmetic on hand-made tables: every number checked against a hand
computation (np.percentile's linear interpolation: p99 of four values = v3 + 0.97·(v4 − v3))."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from specsim.results import RunResult
from specsim.validate.compare import (
    Thresholds,
    compare_point,
    format_table,
    metric_error,
    passes,
    verdict,
    verdict_status,
)


def run(ttft, tpot, slo_met, step_end_s, accepted, drafted) -> RunResult:
    """Four requests arriving at 0..3 s, 11 output tokens each, and one step row carrying the
    run's totals (10 decoding request-steps, 10 of them speculating)."""
    requests = pd.DataFrame({
        "request_id": range(4), "category": "chat", "arrival_s": [0.0, 1.0, 2.0, 3.0],
        "finish_s": [5.0, 6.0, 7.0, 8.0], "prompt_tokens": 8, "output_tokens": 11,
        "ttft_s": ttft, "tpot_s": tpot, "slo_met": slo_met,
        "drafted_tokens": 0, "verified_tokens": 0, "accepted_tokens": 0, "rejected_steps": 0,
    })
    steps = pd.DataFrame({"t_s": [step_end_s - 1.0], "replica": [0], "batch_size": [10],
                          "prefill_tokens": [0],
                          "drafted": [drafted], "verified": [drafted], "accepted": [accepted],
                          "k_mean": [drafted / 10], "k_max": [4], "draft_s": [0.1], "verify_s": [0.8],
                          "step_s": [1.0], "policy": ["fixed:k=2"], "prefill_s": [0.0], "speculating": [10]})
    return RunResult(requests, steps, {"scenario": "hand", "policy": "fixed:k=2", "seed": 0,
                                       "arrival_window_s": 4.0})


REAL = run(ttft=[0.1, 0.2, 0.3, 0.4], tpot=[0.01, 0.02, 0.03, 0.04], slo_met=[True, True, True, False],
           step_end_s=10.0, accepted=10, drafted=20)
SIM = run(ttft=[0.1, 0.2, 0.32, 0.6], tpot=[0.0092, 0.0184, 0.0276, 0.0368],
          slo_met=[True, True, False, False], step_end_s=10.4, accepted=12, drafted=30)

# metric: (real, sim, error, passed)
EXPECTED = {
    "ttft_p50_s": (0.25, 0.26, 0.04, True),
    "ttft_p99_s": (0.397, 0.5916, (0.5916 - 0.397) / 0.397, False),  # +49.0% > 10%
    "tpot_p50_s": (0.025, 0.023, -0.08, False),  # −8% beyond 5%
    "tpot_p99_s": (0.0397, 0.036524, -0.08, True),  # −8% within 10%
    "throughput_tokens_per_s": (4.4, 44 / 10.4, 10 / 10.4 - 1, True),  # makespan 10 vs 10.4 s
    "slo_attainment": (0.75, 0.5, -25.0, False),  # points
    "mean_accepted_length": (2.0, 2.2, 0.1, None),  # 1 + accepted / speculating; not gated
    "mean_k": (2.0, 3.0, 0.5, None),  # drafted / decoding request-steps; not gated
}


def test_error_table_matches_hand_computation():
    table = compare_point("fixed:k=2", 0.5, REAL, SIM, replay=SIM, repeat=REAL).set_index("metric")
    assert list(table.index) == list(EXPECTED)
    for metric, (real, sim, error, passed) in EXPECTED.items():
        row = table.loc[metric]
        assert row["real"] == pytest.approx(real, rel=1e-12), metric
        assert row["sim"] == pytest.approx(sim, rel=1e-12), metric
        assert row["error"] == pytest.approx(error, rel=1e-9, abs=1e-12), metric
        assert row["replay_error"] == pytest.approx(error, rel=1e-9, abs=1e-12), metric
        assert row["noise"] == 0.0, metric
        assert row["passed"] == passed, metric
    assert "real-run repeat noise (largest |repeat − real| over the points): median TTFT 0.0%" in \
        format_table(table.reset_index())
    assert table.loc["slo_attainment", "unit"] == "points"
    assert table.loc["ttft_p99_s", "threshold"] == 0.10
    assert math.isnan(table.loc["mean_k", "threshold"])


def test_verdict_names_each_failure_and_thresholds_are_configurable():
    table = compare_point("fixed:k=2", 0.5, REAL, SIM)
    ok, failures = verdict(table)
    assert not ok
    assert failures == [
        "fixed:k=2 @ load 0.5: p99 TTFT +49.0% (threshold 10%)",
        "fixed:k=2 @ load 0.5: median TPOT -8.0% (threshold 5%)",
        "fixed:k=2 @ load 0.5: SLO attainment -25.0pt (threshold 3pt)",
    ]
    loose = compare_point("fixed:k=2", 0.5, REAL, SIM, thresholds=Thresholds(0.1, 0.5, 0.05, 25.0))
    assert verdict(loose) == (True, [])
    text = format_table(table, "hand")
    assert text.splitlines()[-1].startswith("verdict: FAIL — 3 of 6 gated metrics over thresholds (0 of them "
                                            "unresolved")
    assert "fixed:k=2 @ load 0.5" in text
    # without replay or repeat those columns are undefined, not zero
    assert table["replay_error"].isna().all() and table["noise"].isna().all()


def test_the_diagnostics_line_counts_what_each_other_simulation_would_fail():
    # replayed acceptance = SIM (3 over, as the gated sim), at real speed = REAL (0 over)
    table = compare_point("fixed:k=2", 0.5, REAL, SIM, replay=SIM, at_real_speed=REAL)
    assert (table["at_real_speed_error"] == 0).all()
    assert "over the thresholds had each diagnostic been gated (of 6): replay 3, real speed 0\n" in \
        format_table(table)
    # a simulation that did not run is left out rather than counted as passing
    assert "(of 6): replay 3\n" in format_table(compare_point("fixed:k=2", 0.5, REAL, SIM, replay=SIM))
    assert "had each diagnostic" not in format_table(compare_point("fixed:k=2", 0.5, REAL, SIM))


def test_identical_runs_have_zero_error_and_pass():
    table = compare_point("none", 1.0, REAL, REAL)
    assert (table["error"] == 0).all()
    assert verdict(table) == (True, [])


def test_error_edge_cases():
    assert metric_error(0.0, 0.0, "rel") == 0.0
    assert metric_error(0.0, 1.0, "rel") == math.inf
    assert metric_error(2.0, 1.0, "rel") == -0.5
    assert metric_error(0.9, 0.87, "points") == pytest.approx(-3.0)
    assert math.isnan(metric_error(math.nan, 1.0, "rel"))
    assert passes(math.nan, math.nan, math.nan, 0.05) is True  # undefined in both: nothing to judge
    assert passes(1.0, math.nan, math.nan, 0.05) is False  # undefined in one only
    assert passes(1.0, 1.05, 0.05, 0.05) is True  # the threshold itself passes
    assert passes(1.0, 2.0, 1.0, None) is None
    assert np.isinf(metric_error(0.0, -1.0, "rel"))


def test_a_miss_where_the_real_runs_disagree_by_more_than_the_threshold_is_unresolved():
    # the repeat differs from the real run by more than the threshold on p99 TTFT only
    repeat = run(ttft=[0.1, 0.2, 0.3, 0.7], tpot=[0.01, 0.02, 0.03, 0.04], slo_met=[True, True, True, False],
                 step_end_s=10.0, accepted=10, drafted=20)
    table = compare_point("fixed:k=2", 0.5, REAL, SIM, repeat=repeat)
    ok, failures = verdict(table)
    assert not ok and len(failures) == 3
    noise = (0.688 - 0.397) / 0.397  # p99 of the repeat: 0.3 + 0.97 · (0.7 − 0.3) = 0.688
    assert failures[0] == ("fixed:k=2 @ load 0.5: p99 TTFT +49.0% (UNRESOLVED: the real runs' own spread "
                           f"is {noise * 100:+.1f}%, threshold 10%)")
    assert failures[1] == "fixed:k=2 @ load 0.5: median TPOT -8.0% (threshold 5%)"
    statuses = table.set_index("metric")["status"]
    assert statuses["ttft_p99_s"] == "UNRESOLVED" and statuses["tpot_p50_s"] == "FAIL"
    assert statuses["ttft_p50_s"] == "PASS" and pd.isna(statuses["mean_k"])  # not gated
    assert verdict_status(table) == "FAIL"  # a plain failure beside it still fails the whole
    assert "(1 of them unresolved" in format_table(table)


def test_the_verdict_is_unresolved_when_no_metric_fails_outright():
    # p99 TTFT the only miss, and the real runs' own spread over its threshold there
    repeat = run(ttft=[0.1, 0.2, 0.3, 0.7], tpot=[0.01, 0.02, 0.03, 0.04], slo_met=[True, True, True, False],
                 step_end_s=10.0, accepted=10, drafted=20)
    loose = Thresholds(median=0.1, p99=0.1, throughput=0.05, attainment_points=25.0)
    table = compare_point("fixed:k=2", 0.5, REAL, SIM, repeat=[REAL, repeat], thresholds=loose)
    assert verdict_status(table) == "UNRESOLVED"
    assert format_table(table).splitlines()[-1].startswith("verdict: UNRESOLVED — none fails; 1 of 6")
    # the largest of the repeats' differences is the spread
    assert table.set_index("metric").loc["ttft_p99_s", "noise"] == pytest.approx((0.688 - 0.397) / 0.397)


def test_the_noise_line_counts_points_where_the_repeat_itself_misses_the_threshold():
    # the repeat's p99 TTFT is +73.3% off the real run's (threshold 10%); everything else identical
    repeat = run(ttft=[0.1, 0.2, 0.3, 0.7], tpot=[0.01, 0.02, 0.03, 0.04], slo_met=[True, True, True, False],
                 step_end_s=10.0, accepted=10, drafted=20)
    noisy = compare_point("fixed:k=2", 0.5, REAL, SIM, repeat=repeat)
    steady = compare_point("fixed:k=2", 1.0, REAL, SIM, repeat=REAL)
    text = format_table(pd.concat([noisy, steady], ignore_index=True))
    assert "this machine cannot judge the simulator that finely there): p99 TTFT at 1 of 2 points\n" in text
    assert "cannot judge" not in format_table(steady)  # a repeat within every threshold: no line
    assert "cannot judge" not in format_table(compare_point("fixed:k=2", 0.5, REAL, SIM))  # no repeat


def test_exit_codes_follow_the_verdict():
    from specsim.validate.run import Validation

    repeat = run(ttft=[0.1, 0.2, 0.3, 0.7], tpot=[0.01, 0.02, 0.03, 0.04], slo_met=[True, True, True, False],
                 step_end_s=10.0, accepted=10, drafted=20)
    loose = Thresholds(median=0.1, p99=0.1, throughput=0.05, attainment_points=25.0)
    unresolved = compare_point("fixed:k=2", 0.5, REAL, SIM, repeat=repeat, thresholds=loose)
    assert Validation(compare_point("none", 1.0, REAL, REAL), []).exit_code == 0
    assert Validation(compare_point("fixed:k=2", 0.5, REAL, SIM), []).exit_code == 1
    assert Validation(unresolved, []).exit_code == 3
