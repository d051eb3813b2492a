"""The latency fit recovers a linear law exactly, reports its held-out error honestly, and never
has more work cost less (non-negative coefficients) — on made-up grids, not on this machine's
timings (how well it fits a real calibration is that calibration's noise)."""

from __future__ import annotations

import numpy as np
import pytest

from specsim.profile.fit import fit_latency, predict


def grid():
    return np.meshgrid([1, 2, 4, 8, 16], [1, 3, 5], [64, 256, 1024], indexing="ij")


def test_a_linear_law_is_recovered_exactly() -> None:
    batch, tokens, context = grid()
    time_s = 0.002 + 1e-4 * batch * tokens + 2e-8 * batch * tokens * context
    fit = fit_latency(batch, tokens, context, time_s)
    assert fit.holdout_rel_error_max == pytest.approx(0.0, abs=1e-9)
    assert predict(fit, 32, 2, 2048)[0] == pytest.approx(0.002 + 1e-4 * 64 + 2e-8 * 64 * 2048, rel=1e-9)


def test_noise_shows_in_the_held_out_error_and_more_work_never_costs_less() -> None:
    batch, tokens, context = grid()
    law = 0.002 + 1e-4 * batch * tokens
    noisy = law * np.random.default_rng(0).uniform(0.7, 1.3, law.shape)
    fit = fit_latency(batch, tokens, context, noisy)
    assert 0.01 < fit.holdout_rel_error_median <= fit.holdout_rel_error_max < 0.6
    assert all(c >= 0 for c in fit.coefficients)
