"""Synthetic acceptance: the real engine and the simulator draw the same accepted counts for the
same request at the same decode step, so a real run and a simulated run of `fixed:k=4` accept
identically, request by request, whatever the machine's speed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from realrun.serve import serve
from sim import simulate
from tests.realrun.conftest import small_scenario

RATES = [0.9, 0.7, 0.5]


def test_real_and_simulated_runs_accept_identical_counts(tiny_pair):
    _, target_dir, draft_dir = tiny_pair
    scenario = small_scenario(max_batch_size=4, count=6, output_tokens=30).with_fields(
        {"acceptance": {"kind": "synthetic", "rates": RATES}})
    real = serve(scenario, "fixed:k=4", 3, target_dir, draft_dir, show_progress=False)
    simulated = simulate(scenario, "fixed:k=4", 3)
    columns = ["steps", "drafted_tokens", "verified_tokens", "accepted_tokens", "rejected_steps"]
    assert real.requests["finish_s"].notna().all() and simulated.requests["finish_s"].notna().all()
    pd.testing.assert_frame_equal(real.requests[columns], simulated.requests[columns])
    # the draws decided acceptance, not the models: without them the same run accepts otherwise
    assert "synthetic" in real.details["acceptance"]
    # the engine measured its speed against the profile at every step (validate's model row)
    samples = np.array(real.details["speed_samples"], dtype=float)  # time, decode, prefill ratios
    assert len(samples) >= len(real.steps) // 2
    assert (samples[:, 1][~np.isnan(samples[:, 1])] > 0).all() and (~np.isnan(samples[:, 2])).any()
    models = serve(small_scenario(max_batch_size=4, count=6, output_tokens=30), "fixed:k=4", 3, target_dir,
                   draft_dir, show_progress=False)
    assert not models.requests["accepted_tokens"].equals(real.requests["accepted_tokens"])
