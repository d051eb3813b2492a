"""Arrival processes: rates, variability and burstiness measured on long generated runs.

Every test uses a fixed seed, so it is deterministic; the tolerances are still set at four or
more standard errors of the statistic, so they hold for any seed, not just the one chosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from specsim.errors import SpecsimError
from specsim.workload.arrivals import generate_arrivals, oscillating_rate
from specsim.workload.spec import ArrivalSpec

_ARRIVAL = TypeAdapter(ArrivalSpec)


def _arrivals(
    arrival: dict[str, Any], duration_s: float, seed: int = 7, rate_scale: float = 1.0
) -> np.ndarray:
    times_s = generate_arrivals(
        _ARRIVAL.validate_python(arrival), duration_s, np.random.default_rng(seed), rate_scale
    )
    assert times_s.dtype == np.float64
    assert np.all(np.diff(times_s) >= 0), "arrivals must come sorted"
    assert times_s.size == 0 or (times_s[0] >= 0 and times_s[-1] < duration_s)
    return times_s


def _cv(times_s: np.ndarray) -> float:
    gaps_s = np.diff(times_s)
    return float(gaps_s.std() / gaps_s.mean())


def test_poisson_rate_and_exponential_gaps() -> None:
    times_s = _arrivals({"kind": "poisson", "rate": 20.0}, 3600)
    # N ~ Poisson(72000): sd 268, 0.4 %; 2 % is 5 sd
    assert times_s.size / 3600 == pytest.approx(20.0, rel=0.02)
    # sample CV of 72000 exponential gaps has sd ≈ sqrt((9 - 1) / (4n)) ≈ 0.005; 0.03 is 6 sd
    assert _cv(times_s) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("cv", [0.5, 2.5])
def test_gamma_matches_rate_and_cv(cv: float) -> None:
    times_s = _arrivals({"kind": "gamma", "rate": 10.0, "cv": cv}, 3600)
    # a renewal count has sd ≈ cv·sqrt(λT) ≤ 2.5·190 = 474, 1.3 %; 6 % is over 4 sd
    assert times_s.size / 3600 == pytest.approx(10.0, rel=0.06)
    # CV estimate with gamma kurtosis 3 + 6cv²: relative sd ≤ sqrt((2 + 6cv²)/(4n)) ≈ 1.7 %; 8 % is 4.7 sd
    assert _cv(times_s) == pytest.approx(cv, rel=0.08)


def test_mmpp_long_run_rate_is_the_dwell_weighted_mix() -> None:
    # three states: jumps go uniformly to another state, so the jump chain spends equal visits in
    # each and time shares follow the mean dwells: (0·10 + 5·10 + 10·20) / 40 = 6.25 req/s
    states = [
        {"rate": 0.0, "mean_dwell_s": 10},
        {"rate": 5.0, "mean_dwell_s": 10},
        {"rate": 10.0, "mean_dwell_s": 20},
    ]
    times_s = _arrivals({"kind": "mmpp", "states": states, "start_state": 1}, 100_000)
    # time-in-state fluctuations dominate: about 2500 dwells give a count sd near 1.5 %; 6 % is 4 sd
    assert times_s.size / 100_000 == pytest.approx(6.25, rel=0.06)


def test_mmpp_counts_are_over_dispersed_against_poisson() -> None:
    states = [{"rate": 1.0, "mean_dwell_s": 60}, {"rate": 12.0, "mean_dwell_s": 8}]
    duration_s = 200_000
    times_s = _arrivals({"kind": "mmpp", "states": states}, duration_s)
    # 156 / 68 req/s; the count sd is ≈ 1.4 % here (alternating-renewal variance), 6 % is 4 sd
    assert times_s.size / duration_s == pytest.approx(156 / 68, rel=0.06)
    counts = np.bincount((times_s // 10).astype(int), minlength=duration_s // 10)
    # a Poisson process has variance/mean = 1 ± 0.01 over 20000 windows; the bursts push it far above
    assert counts.var() / counts.mean() > 3.0
    poisson = _arrivals({"kind": "poisson", "rate": 156 / 68}, duration_s)
    counts = np.bincount((poisson // 10).astype(int), minlength=duration_s // 10)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.1)


def test_mmpp_on_off_start_state_is_silent_until_it_leaves() -> None:
    # the off state lasts exponential(1000 s); a first arrival before 1 s would mean it was skipped
    states = [{"rate": 0.0, "mean_dwell_s": 1000}, {"rate": 50.0, "mean_dwell_s": 10}]
    starts = [_arrivals({"kind": "mmpp", "states": states}, 5000, seed=seed)[0] for seed in range(20)]
    assert min(starts) > 1.0  # P(dwell < 1 s) = 0.1 % per seed


def test_oscillating_square_rate_per_half_period() -> None:
    arrival = {"kind": "oscillating", "low_rate": 2.0, "high_rate": 10.0, "period_s": 100, "shape": "square"}
    times_s = _arrivals(arrival, 10_000)
    high_phase = np.mod(times_s, 100) >= 50
    # 5000 s in each phase: counts ~ 10000 and 50000, sd 1 % and 0.45 %; 5 % is ≥ 5 sd
    assert (~high_phase).sum() / 5000 == pytest.approx(2.0, rel=0.05)
    assert high_phase.sum() / 5000 == pytest.approx(10.0, rel=0.05)


def test_oscillating_sine_follows_the_rate_curve() -> None:
    low, high, period_s, duration_s = 1.0, 11.0, 60.0, 12_000
    times_s = _arrivals(
        {"kind": "oscillating", "low_rate": low, "high_rate": high, "period_s": period_s, "shape": "sine"},
        duration_s,
    )
    bins = 10
    counts = np.bincount((np.mod(times_s, period_s) / period_s * bins).astype(int), minlength=bins)
    grid = (np.arange(bins * 100) + 0.5) / (bins * 100) * period_s
    expected = oscillating_rate(low, high, period_s, "sine", grid).reshape(bins, 100).mean(axis=1)
    measured = counts / (duration_s / bins)
    # smallest bin holds ≈ 1.2 req/s · 1200 s = 1440 arrivals, sd 2.6 %; 12 % is over 4 sd
    np.testing.assert_allclose(measured, expected, rtol=0.12)
    assert measured[5] > 5 * measured[0]  # the peak sits mid-period, the trough at its start


def test_piecewise_repeats_its_steps() -> None:
    arrival = {"kind": "piecewise", "times_s": [0, 60, 120], "rates": [1.0, 5.0, 2.0], "repeat": True}
    times_s = _arrivals(arrival, 18_000)  # 100 cycles of 180 s
    step = (np.mod(times_s, 180) // 60).astype(int)
    measured = np.bincount(step, minlength=3) / 6000
    # 6000 s per step: counts 6000, 30000, 12000, sd ≤ 1.3 %; 5 % is ≥ 4 sd
    np.testing.assert_allclose(measured, [1.0, 5.0, 2.0], rtol=0.05)


def test_piecewise_without_repeat_holds_the_last_rate() -> None:
    arrival = {"kind": "piecewise", "times_s": [0, 60, 120], "rates": [0.0, 5.0, 2.0]}
    times_s = _arrivals(arrival, 2000)
    assert not np.any(times_s < 60)  # rate 0 on the first step
    # 1880 s at 2 req/s: 3760 arrivals, sd 1.6 %; 8 % is 5 sd
    assert np.sum(times_s >= 120) / 1880 == pytest.approx(2.0, rel=0.08)


def test_piecewise_explicit_period() -> None:
    arrival = {"kind": "piecewise", "times_s": [0, 10], "rates": [0.0, 4.0], "repeat": True, "period_s": 40}
    times_s = _arrivals(arrival, 4000)
    assert not np.any(np.mod(times_s, 40) < 10)
    # 3000 s at 4 req/s: sd 0.9 %; 5 % is over 5 sd
    assert times_s.size / 3000 == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize(
    "arrival",
    [
        {"kind": "poisson", "rate": 5.0},
        {"kind": "gamma", "rate": 5.0, "cv": 1.5},
        {"kind": "mmpp", "states": [{"rate": 2.0, "mean_dwell_s": 30}, {"rate": 8.0, "mean_dwell_s": 30}]},
        {"kind": "oscillating", "low_rate": 2.0, "high_rate": 8.0, "period_s": 50},
        {"kind": "piecewise", "times_s": [0, 100], "rates": [2.0, 8.0], "repeat": True},
    ],
)
def test_rate_scale_doubles_the_count(arrival: dict[str, Any]) -> None:
    base = _arrivals(arrival, 4000).size
    doubled = _arrivals(arrival, 4000, rate_scale=2.0).size
    # base ≈ 20000: Poisson sd 0.7 %, the burstier ones a few %; 10 % on the ratio is ≥ 4 sd
    assert doubled / base == pytest.approx(2.0, rel=0.10)


def test_same_seed_same_arrivals_other_seed_differs() -> None:
    arrival = {"kind": "mmpp", "states": [{"rate": 2.0, "mean_dwell_s": 5}, {"rate": 9.0, "mean_dwell_s": 3}]}
    first, again, other = (_arrivals(arrival, 600, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert first.size != other.size or not np.array_equal(first, other)


def test_absurd_volume_is_refused_before_allocating() -> None:
    with pytest.raises(SpecsimError, match="requests expected"):
        _arrivals({"kind": "poisson", "rate": 1e6}, 1e6)
