"""Synthetic acceptance in the simulator: the drawn prefixes follow the rates (the closed form of
the expected accepted tokens), come from a stream keyed by request and step, and bad rates are
refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate
from specsim.engine.synthetic_acceptance import SyntheticAcceptance
from specsim.errors import SpecsimError
from specsim.profile import save_profile
from specsim.profile.roofline import roofline_profile
from specsim.scenario import load_scenario
from tests.sim.scenarios import poisson_scenario

RATES = [0.8, 0.7, 0.6]


def test_a_step_keeps_its_draw_wherever_the_stream_is_read_from():
    synthetic = SyntheticAcceptance(RATES, seed=4, positions=5)
    whole = synthetic.prefixes(request=7, first_step=0, steps=40)
    assert (synthetic.prefixes(request=7, first_step=13, steps=9) == whole[13:22]).all()
    assert not (synthetic.prefixes(request=8, first_step=0, steps=40) == whole).all()


def test_expected_accepted_tokens_follow_the_rates():
    # k = 3 verified: E[accepted] = r1 + r1·r2 + r1·r2·r3
    scenario = poisson_scenario(4.0, 200.0, 100, 60, max_batch_size=16,
                                acceptance={"kind": "synthetic", "rates": RATES})
    steps = simulate(scenario, "fixed:k=3", seed=0).steps
    full = steps[(steps["k_mean"] == 3.0) & (steps["speculating"] > 0)]  # no row capped near its end
    rows = int(full["speculating"].sum())
    mean = full["accepted"].sum() / rows
    expected = 0.8 + 0.8 * 0.7 + 0.8 * 0.7 * 0.6
    assert rows > 5000
    assert mean == pytest.approx(expected, abs=4 * 1.2 / np.sqrt(rows))  # 4 standard errors


def test_a_profile_without_acceptance_runs_on_the_rates(tmp_path):
    # a random-weight pair's profile (no acceptance): the rates stand in for confidences too
    latency_only = roofline_profile("h100", "llama3-8b", "llama3.2-1b", date="2026-12-06")
    assert latency_only.acceptance is None
    path = save_profile(latency_only, tmp_path / "latency-only.json")
    scenario = poisson_scenario(2.0, 20.0, 100, 40, acceptance={"kind": "synthetic", "rates": [0.5]},
                                profile=str(path))
    with pytest.raises(SpecsimError, match="no acceptance curves"):
        simulate(scenario.with_fields({"acceptance": None}), "fixed:k=2", seed=0)
    steps = simulate(scenario, "fixed:k=2", seed=0).steps
    drafted = steps[steps["k_mean"] == 2.0]
    assert drafted["accepted"].sum() / drafted["speculating"].sum() == pytest.approx(0.5 + 0.25, abs=0.1)


@pytest.mark.parametrize("acceptance, words", [
    ({"kind": "synthetic", "rates": [0.8, 1.2]}, "acceptance.rates.1"),
    ({"kind": "synthetic", "rates": []}, "acceptance.rates"),
    ({"kind": "profile"}, "acceptance.kind"),
])
def test_bad_rates_are_one_line_errors_naming_the_field(tmp_path, acceptance, words):
    path = tmp_path / "bad.yaml"
    rates = acceptance.get("rates")
    lines = [f"  kind: {acceptance['kind']}"] + ([f"  rates: {rates}"] if rates is not None else [])
    path.write_text("\n".join([
        "name: bad", "cluster: {replicas: 1, max_batch_size: 4, max_batch_tokens: 512}",
        "workload: {duration_s: 5, arrival: {kind: poisson, rate: 1},",
        "  prompt_tokens: {kind: fixed, value: 10}, output_tokens: {kind: fixed, value: 10}}",
        "slo: {ttft_s: 1, tpot_s: 0.1}", "policies: [none]", "acceptance:", *lines, ""]))
    with pytest.raises(SpecsimError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and words in message
