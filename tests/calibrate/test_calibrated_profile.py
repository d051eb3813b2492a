"""A CPU calibration of the tiny pair: a valid profile, physically ordered grids, reported fits."""

import itertools
import math

import numpy as np

from calibrate.serving import MAX_PERSISTENCE
from specsim.profile import load_profile
from specsim.prompts import CATEGORIES

# Noise tolerance for "more work is never cheaper": on these shared 2-core machines timings move by
# 10-20% between runs (ENGINE-NOTES); grids are medians of interleaved repeats over three walks, so a
# point can still sit ~10-15% off. 25% is beyond that noise, while a real inversion (e.g. cache
# rows mixed up between points) shows as a factor.
TOLERANCE = 0.25


def never_cheaper_along(grid: np.ndarray, axis: int) -> list[tuple]:
    """Index pairs where one more step along `axis` is cheaper by more than the tolerance."""
    bad = []
    for index in itertools.product(*(range(n) for n in grid.shape)):
        if index[axis] + 1 < grid.shape[axis]:
            after = list(index)
            after[axis] += 1
            if grid[tuple(after)] < (1 - TOLERANCE) * grid[index]:
                bad.append((index, tuple(after), grid[index], grid[tuple(after)]))
    return bad


def test_profile_loads_and_describes_the_run(tiny_profile_path):
    profile = load_profile(tiny_profile_path)
    assert profile.hardware.label == "cpu"
    assert profile.target.weights == profile.draft.weights == "real"
    assert profile.target.architecture["hidden_size"] == 384
    assert profile.draft.architecture["hidden_size"] == 128
    assert profile.latency.timer == "perf_counter" and profile.latency.repeats >= 3
    assert profile.latency.verify.tokens_per_request == [1, 2, 5]
    assert profile.memory.target_kv_bytes_per_token == 2 * 6 * 6 * 64 * 4
    assert profile.memory.kv_capacity_tokens > 0
    assert profile.latency.step_overhead_s > 0
    assert profile.latency.plain_step_overhead_s is not None and profile.latency.plain_step_overhead_s > 0
    # the policies named are served on the real engine, each for its own host time per step
    assert sorted(profile.latency.policy_step_overhead_s) == ["adaptive", "fixed:k=2"]
    assert all(0 < overhead_s < 0.05 for overhead_s in profile.latency.policy_step_overhead_s.values())
    # the engine's step-to-step spread: quantiles around its median, in order (the schema checks
    # the order; here: that it was measured and straddles 1)
    spread = profile.latency.step_time_spread
    assert len(spread) == 20 and spread[0] < 1.0 < spread[-1]
    assert 0.0 <= profile.latency.step_time_persistence <= MAX_PERSISTENCE
    first_pass = profile.latency.draft_first_pass
    assert first_pass is not None and first_pass.tokens_per_request == [1, 2, 4]
    assert first_pass.batch_sizes == profile.latency.draft_step.batch_sizes
    assert np.all(np.asarray(first_pass.time_s) > 0)
    # the grids' walks were interleaved, and the profile says how far apart they put a point
    assert sorted(profile.latency.grid_walk_spread) == ["decode", "prefill"]
    assert "a point's 3 walks' medians differ by" in profile.notes


def test_grids_are_measured_where_the_pair_costs_something(tiny_profile_path):
    # whether the measured grids are monotone is this machine's noise as much as the code's: the
    # order the work imposes is held deterministically in test_latency.py (a stepped clock)
    latency = load_profile(tiny_profile_path).latency
    for grid in (latency.verify, latency.draft_step, latency.draft_first_pass, latency.prefill_target,
                 latency.prefill_draft):
        assert np.all(np.asarray(grid.time_s) > 0)


def test_fit_errors_are_reported(tiny_profile_path):
    latency = load_profile(tiny_profile_path).latency
    for section in (latency.draft_step, latency.verify, latency.prefill_target, latency.prefill_draft,
                    latency.draft_first_pass):
        fit = section.fit
        assert math.isfinite(fit.holdout_rel_error_median) and math.isfinite(fit.holdout_rel_error_max)
        assert 0 <= fit.holdout_rel_error_median <= fit.holdout_rel_error_max
        assert any(c > 0 for c in fit.coefficients)


def test_acceptance_section_of_a_real_pair(tiny_profile_path):
    acceptance = load_profile(tiny_profile_path).acceptance
    assert acceptance is not None and acceptance.source == "measured"
    assert acceptance.max_draft_tokens == 4 and acceptance.default_category == "chat"
    for mode in (acceptance.greedy, acceptance.sampling):
        assert tuple(mode) == CATEGORIES
        for curve in mode.values():
            assert curve.requests == 2 and curve.draft_tokens % 4 == 0
            assert len(curve.position_acceptance) == len(curve.mean_accepted_length) == 4
            # P(prefix ≥ j) never rises with j; the expected length grows by exactly that much
            assert all(b <= a + 1e-12 for a, b in itertools.pairwise(curve.position_acceptance))
            steps = np.diff([1.0, *curve.mean_accepted_length])
            assert np.allclose(steps, curve.position_acceptance)
    # trees: the greedy curves carry the draft's candidates 2..5, measured on the accepted path
    for curve in acceptance.greedy.values():
        ranks = curve.ranks
        assert ranks is not None and len(ranks.probability_share) == 4
        assert 0 < sum(ranks.probability_share) <= 1
        assert all(a >= b for a, b in itertools.pairwise(ranks.probability_share))  # lower ranks, less
        assert sum(ranks.match_samples_by_bin[0]) > 0
    assert all(curve.ranks is None for curve in acceptance.sampling.values())
