"""The speed probe: the engine's forwards at one grid point of a profile against its price."""

from __future__ import annotations

import math

import pytest

from calibrate.probe import SpeedProbe, nearest
from specsim.profile import load_profile
from specsim.profile.latency import LatencyModel
from specsim.profile.scale import scale_forwards


def test_nearest_prefers_the_smaller_on_a_tie():
    assert nearest([16, 64, 256], 64) == 64
    assert nearest([32, 128], 64) == 32
    assert nearest([16, 48], 32) == 16


def test_probe_right_after_a_calibration_reads_the_profiles_speed(tiny_pair, tiny_profile_path):
    _, target_dir, draft_dir = tiny_pair
    profile = load_profile(tiny_profile_path)
    probe = SpeedProbe(target_dir, draft_dir, profile)
    # the grid's own points (tests/calibrate/conftest.py: contexts 32, 128; q 1, 2, 5; prompts 8, 32)
    assert (probe.context, probe.verify_tokens, probe.prompt) == (32, 5, 32)
    latency = LatencyModel(profile.latency)
    price_s = (latency.verify_s(1, 1, 32) + latency.draft_first_pass_s(1, 1, 32)
               + 3 * latency.draft_step_s(1, 32) + latency.verify_s(1, 5, 32))
    reading = probe()
    assert reading.decode_profile_s == pytest.approx(price_s)
    assert reading.prefill_profile_s == pytest.approx(latency.prefill_s(1, 32, with_draft=True))
    # the same forwards as the grid, timed by the same timer: a speed, whatever the machine's
    # moment (how far it moves from the calibration is benchmarks/probe_drift.py's question)
    assert reading.decode_ratio > 0 and reading.prefill_ratio > 0
    # against a profile of a machine three times slower, the same forwards read a third
    slower = SpeedProbe(target_dir, draft_dir, scale_forwards(profile, 3.0))
    assert slower.decode_price_s() == pytest.approx(3 * price_s)
    assert all(math.isfinite(value) for value in reading.details().values())
