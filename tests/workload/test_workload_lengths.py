"""Length distributions, clamps and the prompt/output rank correlation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from specsim.workload.lengths import correlate_with_prompt, sample_lengths
from specsim.workload.spec import OutputLengthSpec

_LENGTH = TypeAdapter(OutputLengthSpec)


def _lengths(
    spec: dict[str, Any], count: int = 50_000, seed: int = 11, base_dir: Path = Path(".")
) -> np.ndarray:
    values = sample_lengths(_LENGTH.validate_python(spec), count, np.random.default_rng(seed), base_dir)
    assert values.dtype == np.int64 and values.shape == (count,)
    assert values.min() >= 1
    return values


def test_fixed_and_its_clamp() -> None:
    assert np.all(_lengths({"kind": "fixed", "value": 128}, 100) == 128)
    assert np.all(_lengths({"kind": "fixed", "value": 128, "max": 64}, 100) == 64)
    assert np.all(_lengths({"kind": "fixed", "value": 8, "min": 16}, 100) == 16)


def test_uniform_covers_both_ends_inclusive() -> None:
    values = _lengths({"kind": "uniform", "low": 3, "high": 7}, 10_000)
    # each of 5 values has p = 0.2: missing one in 10000 draws is impossible in practice
    assert set(np.unique(values)) == {3, 4, 5, 6, 7}


def test_lognormal_median_and_clamps() -> None:
    values = _lengths({"kind": "lognormal", "median": 500, "sigma": 1.0})
    # sd of a sample median in log space ≈ 1.2533·σ/sqrt(n) = 0.0056; 3 % is over 5 sd
    assert np.median(values) == pytest.approx(500, rel=0.03)
    clamped = _lengths({"kind": "lognormal", "median": 500, "sigma": 1.0, "min": 100, "max": 1000})
    assert clamped.min() == 100 and clamped.max() == 1000
    # P(X < 100) = Φ(-ln 5) ≈ 5.4 %: the clamp piles that mass on the bound
    assert np.mean(clamped == 100) == pytest.approx(stats.norm.cdf(-np.log(5)), abs=0.01)


def test_zipf_is_heavy_tailed_and_scaled() -> None:
    values = _lengths({"kind": "zipf", "exponent": 1.5})
    # P(X > 100) from the exact Zipf tail ≈ 6.5 %; binomial sd over 50000 draws ≈ 0.11 %
    assert np.mean(values > 100) == pytest.approx(stats.zipf.sf(100, 1.5), abs=0.006)
    assert np.median(values) <= 2 and values.max() > 10_000  # typical short, a few huge
    scaled = _lengths({"kind": "zipf", "exponent": 1.5, "scale": 10, "max": 5000})
    assert scaled.min() == 10 and scaled.max() == 5000
    assert np.all((scaled % 10 == 0) | (scaled == 5000))


def test_zipf_near_one_without_max_does_not_overflow() -> None:
    values = _lengths({"kind": "zipf", "exponent": 1.01, "scale": 1e6}, 1000)
    assert values.max() <= 2**31 - 1


def test_empirical_resamples_the_trace_column(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("arrival_s,prompt_tokens,output_tokens\n0,10,7\n1,20,9\n2,30,11\n")
    trace = {"format": "csv", "path": "t.csv"}
    values = _lengths(
        {"kind": "empirical", "trace": trace, "column": "output_tokens"}, 3000, base_dir=tmp_path
    )
    assert set(np.unique(values)) == {7, 9, 11}
    # each value has p = 1/3: sd of its share over 3000 draws 0.86 %; 5 % is nearly 6 sd
    np.testing.assert_allclose(np.bincount(values)[[7, 9, 11]] / 3000, 1 / 3, atol=0.05)
    clamped = _lengths(
        {"kind": "empirical", "trace": trace, "column": "prompt_tokens", "max": 25}, 300, base_dir=tmp_path
    )
    assert set(np.unique(clamped)) == {10, 20, 25}


@pytest.mark.parametrize("target", [0.5, 0.3, -0.4])
def test_correlation_gives_the_asked_rank_correlation(target: float) -> None:
    rng = np.random.default_rng(5)
    count = 20_000
    prompt = sample_lengths(
        _LENGTH.validate_python({"kind": "lognormal", "median": 400, "sigma": 1.0}), count, rng, Path(".")
    )
    output = sample_lengths(
        _LENGTH.validate_python({"kind": "lognormal", "median": 200, "sigma": 0.8}), count, rng, Path(".")
    )
    correlated = correlate_with_prompt(prompt, output, target, rng)
    # the marginal is untouched: same values, new order
    np.testing.assert_array_equal(np.sort(correlated), np.sort(output))
    # Spearman's sd ≈ (1 - ρ²)/sqrt(n) ≤ 0.007; rounding to whole tokens adds a few ties; 0.04 is ~6 sd
    assert stats.spearmanr(prompt, correlated).statistic == pytest.approx(target, abs=0.04)
    assert abs(stats.spearmanr(prompt, output).statistic) < 0.04  # and it was independent before


def test_correlation_with_constant_prompts_stays_independent() -> None:
    rng = np.random.default_rng(2)
    output = rng.integers(1, 1000, size=5000)
    # equal prompts are ranked at random, so no structure leaks in from the array order
    correlated = correlate_with_prompt(np.full(5000, 64), output, 0.8, rng)
    assert abs(stats.spearmanr(np.arange(5000), correlated).statistic) < 0.06  # sd 0.014
