"""Routing across replicas, and preemption when the KV cache is full."""

from __future__ import annotations

from pathlib import Path

from sim import simulate
from specsim.profile.synthetic import iid_acceptance, linear_profile
from specsim.scenario import scenario_from_dict
from tests.sim.scenarios import poisson_scenario

PROFILE = linear_profile(draft_step_s=0.001, verify_base_s=0.01, verify_per_token_s=0.0002,
                         prefill_base_s=0.02, acceptance=iid_acceptance(0.7))


def test_round_robin_alternates_replicas_in_arrival_order() -> None:
    scenario = poisson_scenario(4.0, 10.0, prompt_tokens=32, output_tokens=8, max_batch_size=4, replicas=3,
                                cluster__router="round_robin")
    requests = simulate(scenario, "none", seed=1, profile=PROFILE).requests.sort_values("arrival_s")
    assert list(requests["replica"]) == [index % 3 for index in range(len(requests))]


def test_least_outstanding_tokens_avoids_the_replica_holding_a_long_request(tmp_path: Path) -> None:
    # One long request, then short ones while it runs: round robin would send every other short
    # request behind the long one; least outstanding tokens sends them all to the idle replica.
    rows = ["arrival_s,prompt_tokens,output_tokens", "0.0,32,2000"]
    rows += [f"{0.1 * index:.1f},32,4" for index in range(1, 6)]
    (tmp_path / "trace.csv").write_text("\n".join(rows) + "\n")
    raw = {
        "name": "router", "cluster": {"replicas": 2, "router": "least_outstanding_tokens",
                                      "max_batch_size": 8, "max_batch_tokens": 4096},
        "workload": {"trace": {"format": "csv", "path": "trace.csv"}},
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05}, "policies": ["none"], "drain_s": 100.0,
    }
    scenario = scenario_from_dict(raw, "router.yaml", tmp_path)
    requests = simulate(scenario, "none", seed=0, profile=PROFILE).requests.sort_values("arrival_s")
    assert list(requests["replica"]) == [0, 1, 1, 1, 1, 1]


def test_full_kv_cache_preempts_and_every_request_still_finishes_exactly() -> None:
    # 8 requests of 64 + 64 tokens would need 1024 tokens of KV; 600 forces preemption.
    scenario = poisson_scenario(20.0, 2.0, prompt_tokens=64, output_tokens=64, max_batch_size=8,
                                cluster__kv_capacity_tokens=600)
    result = simulate(scenario, "fixed:k=3", seed=3, profile=PROFILE)
    assert result.details["preemptions"] > 0
    requests = result.requests
    assert requests["finish_s"].notna().all()
    steps = result.steps
    # Token conservation through preemption: every output token after the first comes from a
    # decode step (accepted drafts + one verified token per request-step) or from the prefill
    # that recomputes a preempted request, which emits its next token as any prefill does.
    decoded = int(steps["accepted"].sum() + steps["batch_size"].sum())
    assert decoded + result.details["preemptions"] == int((requests["output_tokens"] - 1).sum())
