"""A step pays the engine's host overhead once: `step_overhead_s` when some request drafts,
`plain_step_overhead_s` when nobody does (plain decoding, prefill only), and a policy's own
measured overhead (`policy_step_overhead_s`) on its steps with decode rows."""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate
from specsim.profile.synthetic import iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario

DRAFT_S, VERIFY_S, PREFILL_S = 0.002, 0.02, 0.03
SPECULATIVE_OVERHEAD_S, PLAIN_OVERHEAD_S = 0.004, 0.001


def run(policy: str, plain_overhead_s: float | None, policy_overheads_s: dict[str, float] | None = None):
    profile = linear_profile(draft_step_s=DRAFT_S, verify_base_s=VERIFY_S, prefill_base_s=PREFILL_S,
                             step_overhead_s=SPECULATIVE_OVERHEAD_S, plain_step_overhead_s=plain_overhead_s,
                             acceptance=iid_acceptance(1.0), policy_step_overhead_s=policy_overheads_s)
    # one request at a time (batch 1); kept: those that found the replica idle, so that their
    # prefill step starts at their arrival
    scenario = poisson_scenario(0.5, 60.0, prompt_tokens=16, output_tokens=5)
    requests = simulate(scenario, policy, seed=0, profile=profile).requests.sort_values("arrival_s")
    arrival, finish = requests["arrival_s"].to_numpy(), requests["finish_s"].to_numpy()
    idle = np.concatenate([[True], arrival[1:] >= finish[:-1]])
    assert idle.sum() > 20
    return requests[idle]


def test_plain_and_prefill_steps_pay_the_plain_overhead() -> None:
    requests = run("none", PLAIN_OVERHEAD_S)
    np.testing.assert_allclose(requests["first_token_s"] - requests["arrival_s"],
                               PREFILL_S + PLAIN_OVERHEAD_S, rtol=1e-9)
    # 4 more tokens, one plain step each
    np.testing.assert_allclose(requests["finish_s"] - requests["first_token_s"],
                               4 * (VERIFY_S + PLAIN_OVERHEAD_S), rtol=1e-9)


def test_drafting_steps_pay_the_speculative_overhead() -> None:
    requests = run("fixed:k=1", PLAIN_OVERHEAD_S)
    np.testing.assert_allclose(requests["first_token_s"] - requests["arrival_s"],
                               PREFILL_S + PLAIN_OVERHEAD_S, rtol=1e-9)
    # every draft accepted: 4 more tokens in two steps of one draft pass + one verify
    np.testing.assert_allclose(requests["finish_s"] - requests["first_token_s"],
                               2 * (DRAFT_S + VERIFY_S + SPECULATIVE_OVERHEAD_S), rtol=1e-9)


def test_without_a_plain_overhead_every_step_pays_the_one_overhead() -> None:
    requests = run("none", None)
    np.testing.assert_allclose(requests["finish_s"] - requests["first_token_s"],
                               4 * (VERIFY_S + SPECULATIVE_OVERHEAD_S), rtol=1e-9)


POLICY_OVERHEAD_S = 0.007


@pytest.mark.parametrize("policy", ["fixed:k=1", "none"])
def test_a_policys_measured_overhead_replaces_the_generic_one_on_its_decode_steps(policy: str) -> None:
    requests = run(policy, PLAIN_OVERHEAD_S, {policy: POLICY_OVERHEAD_S, "adaptive": 1.0})
    # the prefill-only step never consults the policy: the plain overhead
    np.testing.assert_allclose(requests["first_token_s"] - requests["arrival_s"],
                               PREFILL_S + PLAIN_OVERHEAD_S, rtol=1e-9)
    steps, forwards_s = (2, DRAFT_S + VERIFY_S) if policy == "fixed:k=1" else (4, VERIFY_S)
    np.testing.assert_allclose(requests["finish_s"] - requests["first_token_s"],
                               steps * (forwards_s + POLICY_OVERHEAD_S), rtol=1e-9)


def test_another_policys_overhead_is_not_charged() -> None:
    requests = run("fixed:k=1", PLAIN_OVERHEAD_S, {"fixed:k=2": POLICY_OVERHEAD_S})
    np.testing.assert_allclose(requests["finish_s"] - requests["first_token_s"],
                               2 * (DRAFT_S + VERIFY_S + SPECULATIVE_OVERHEAD_S), rtol=1e-9)
