"""Token bookkeeping: every finished request produced exactly its output tokens, each decode step
produced accepted + 1 tokens per request, and the steps table adds up to the requests table."""

import pytest

from sim import simulate
from tests.sim.test_determinism import bursty


@pytest.mark.parametrize(("policy", "kv_capacity"),
                         [("fixed:k=4", None), ("none", None), ("none", 2500), ("fixed:k=2", 2500)])
def test_tokens_are_conserved(policy: str, kv_capacity: int | None) -> None:
    scenario = bursty()
    if kv_capacity is not None:  # a small cache: requests get preempted and recomputed
        scenario = scenario.with_fields({"cluster.kv_capacity_tokens": kv_capacity})
    result = simulate(scenario, policy, seed=9)
    requests, steps = result.requests, result.steps
    preemptions = result.details["preemptions"]
    if kv_capacity is None:
        assert preemptions == 0
    elif policy == "none":  # (speculation's lookahead reservation holds admissions back instead)
        assert preemptions > 0
    assert requests["finish_s"].notna().all()

    # per request: accepted ≤ verified ≤ drafted; a finished request's tokens are its first token,
    # one more per recompute after a preemption, and accepted + 1 per decode step
    assert (requests["accepted_tokens"] <= requests["verified_tokens"]).all()
    assert (requests["verified_tokens"] <= requests["drafted_tokens"]).all()
    produced = 1 + requests["steps"] + requests["accepted_tokens"]
    if preemptions == 0:
        assert (produced == requests["output_tokens"]).all()
    else:
        assert (produced <= requests["output_tokens"]).all()
        assert int((requests["output_tokens"] - produced).sum()) == preemptions

    # the steps table holds the same totals
    assert int(steps["batch_size"].sum()) == int(requests["steps"].sum())
    assert int(steps["drafted"].sum()) == int(requests["drafted_tokens"].sum())
    assert int(steps["verified"].sum()) == int(requests["verified_tokens"].sum())
    assert int(steps["accepted"].sum()) == int(requests["accepted_tokens"].sum())
    decode_tokens = int((steps["accepted"] + steps["batch_size"]).sum())
    assert decode_tokens + len(requests) + preemptions == int(requests["output_tokens"].sum())
    if preemptions == 0:
        assert int(steps["prefill_tokens"].sum()) == int(requests["prompt_tokens"].sum())
    else:
        assert int(steps["prefill_tokens"].sum()) > int(requests["prompt_tokens"].sum())

    # per step: accepted ≤ verified ≤ drafted ≤ batch · k_max, k_mean = drafted / batch
    decoding = steps[steps["batch_size"] > 0]
    assert (decoding["accepted"] <= decoding["verified"]).all()
    assert (decoding["verified"] <= decoding["drafted"]).all()
    assert (decoding["drafted"] <= decoding["batch_size"] * decoding["k_max"]).all()
    k_mean = (decoding["drafted"] / decoding["batch_size"]).to_numpy()
    assert decoding["k_mean"].to_numpy() == pytest.approx(k_mean)
    assert (decoding["speculating"] <= decoding["batch_size"]).all()
