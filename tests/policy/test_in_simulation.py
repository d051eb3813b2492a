"""Every policy runs in the simulator; goodput and adaptive are never worse than plain decoding
beyond noise, and adaptive clearly beats it at low load. Small scenarios on the default profile."""

import pytest

from sim import simulate
from specsim.errors import SpecsimError
from specsim.policy import POLICIES, make_policy
from tests.sim.scenarios import poisson_scenario

SPECS = ["none", "fixed:k=3", "disable_by_batch:k=3,max_batch=8", "disable_by_batch:sticky=true",
         "threshold", "goodput", "goodput:every=20", "adaptive", "adaptive:gate=slack,confidence=calibrated",
         "adaptive:drafter=false,verifier=false,slo_gate=false", "slo_customized",
         "slo_customized:tree=false", "static_tree", "static_tree:width=1,depth=3", "oracle"]


def scenario(rate: float, duration_s: float = 8.0, output_tokens: int = 128, **extra: object):
    return poisson_scenario(rate=rate, duration_s=duration_s, prompt_tokens=256, output_tokens=output_tokens,
                            max_batch_size=256, slo__tpot_s=0.03, slo__ttft_s=2.0, **extra)


def test_every_registered_policy_is_exercised() -> None:
    assert {spec.partition(":")[0] for spec in SPECS} == set(POLICIES)


@pytest.mark.parametrize("spec", SPECS)
def test_policy_runs_in_the_simulator(spec: str) -> None:
    result = simulate(scenario(rate=4.0, duration_s=4.0), spec, seed=1)
    summary = result.summary
    assert summary["finished"] == summary["requests"] > 0
    assert summary["policy"] == make_policy(spec).label()
    if spec != "none":
        assert summary["mean_k"] > 0  # light load: every one of them speculates


def test_mixed_slo_classes_run_under_slo_customized() -> None:
    classes = [{"name": "tight", "share": 0.5, "ttft_s": 1.0, "tpot_s": 0.01},
               {"name": "loose", "share": 0.5, "ttft_s": 5.0, "tpot_s": 0.1}]
    result = simulate(scenario(rate=4.0, duration_s=4.0, slo__classes=classes), "slo_customized", seed=1)
    assert result.summary["finished"] == result.summary["requests"]


@pytest.mark.parametrize(("spec", "message"), [
    ("nonsense", "unknown policy 'nonsense'"),
    ("adaptive:speed=3", "policy 'adaptive' has no parameter 'speed'"),
    ("goodput:k_max=many", "policy 'goodput': k_max must be a int, got 'many'"),
    ("threshold:theta=1.5", "policy 'threshold': theta must be in [0, 1]"),
    ("adaptive:gate=soft", "policy 'adaptive': gate must be 'step' or 'slack'"),
    ("adaptive:confidence=psychic", "policy 'adaptive': confidence must be 'raw' or 'calibrated'"),
    ("goodput:alpha=global", "policy 'goodput': alpha must be 'batch' or 'per_request'"),
    ("slo_customized:budget=all", "policy 'slo_customized': budget must be 'fixed' or 'knee'"),
    ("disable_by_batch:k=0", "policy 'disable_by_batch': k must be ≥ 1"),
    ("slo_customized:max_depth=0", "policy 'slo_customized': max_depth must be ≥ 1"),
    ("oracle:k_max=-1", "policy 'oracle': k_max must be ≥ 1"),
    ("static_tree:width=2,depth=2,nodes=5", "policy 'static_tree': nodes must be in [0, width·depth = 4]"),
    ("adaptive:verifier=maybe", "policy 'adaptive': verifier must be a bool, got 'maybe'"),
])
def test_bad_policy_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(SpecsimError) as error:
        make_policy(spec)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, float], dict]:
    """Plain decoding, goodput and adaptive at low load (batch ≈ 1–2) and near saturation."""
    return {(spec, rate): simulate(scenario(rate), spec, seed=2).summary
            for rate in (2.0, 60.0) for spec in ("none", "goodput", "adaptive")}


@pytest.mark.parametrize("spec", ["goodput", "adaptive"])
@pytest.mark.parametrize("rate", [2.0, 60.0])
def test_never_worse_than_plain_decoding_beyond_noise(runs: dict, spec: str, rate: float) -> None:
    mine, plain = runs[(spec, rate)], runs[("none", rate)]
    assert mine["throughput_tokens_per_s"] >= 0.97 * plain["throughput_tokens_per_s"]
    assert mine["slo_attainment"] >= plain["slo_attainment"] - 0.03
    assert mine["goodput_requests_per_s"] >= 0.97 * plain["goodput_requests_per_s"]


def test_adaptive_clearly_beats_plain_decoding_at_low_load(runs: dict) -> None:
    mine, plain = runs[("adaptive", 2.0)], runs[("none", 2.0)]
    assert mine["tpot_p50_s"] < 0.6 * plain["tpot_p50_s"]
    assert mine["mean_accepted_length"] > 2.0


def test_static_tree_verifies_its_node_budget_of_a_larger_tree() -> None:
    steps = simulate(scenario(rate=4.0, duration_s=4.0), "static_tree:width=3,depth=3,nodes=4", seed=1).steps
    decoding = steps[steps["batch_size"] > 0]
    assert (decoding["verified"] <= 4 * decoding["batch_size"]).all()
    assert (decoding["drafted"] > decoding["verified"]).any()  # 9-node trees drafted, 4 verified
