"""Step times as a staircase (forwards padded to captured CUDA-graph sizes): the padding itself,
the profile field's checks, and the policies' global search where goodput is not unimodal."""

import json
from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest

from sim import simulate
from specsim.errors import SpecsimError
from specsim.policy import make_policy
from specsim.profile import load_profile, save_profile
from specsim.profile.engine import EngineModel, FusedForward
from specsim.profile.roofline import VLLM_CUDA_GRAPH_SIZES, roofline_profile
from tests.sim.scenarios import poisson_scenario


def forwards(sizes: list[int] | None) -> FusedForward:
    profile = roofline_profile("h100", "llama2-7b", "llama-68m", date="2026-12-06",
                               cuda_graph_sizes=sizes)
    forward = EngineModel(profile.engine).target
    assert forward is not None
    return forward


def test_a_forward_pads_to_the_next_captured_size_and_runs_unpadded_beyond():
    smooth, stairs = forwards(None), forwards([1, 2, 4, 8, 16, 64])
    for tokens, padded in ((3, 4), (9, 16), (16, 16), (17, 64)):
        # padding rows cost dense work and logits, no attention
        assert stairs.time_s(tokens, tokens, 1e3, 5e3) == smooth.time_s(padded, padded, 1e3, 5e3)
    assert stairs.time_s(65, 65, 1000.0, 5000.0) == smooth.time_s(65, 65, 1000.0, 5000.0)


def test_vllm_sizes_are_its_documented_defaults():
    sizes = VLLM_CUDA_GRAPH_SIZES
    assert sizes[:5] == [1, 2, 4, 8, 16] and sizes[-1] == 512
    steps = [(a, b - a) for a, b in pairwise(sizes)]
    assert all(step == 8 for a, step in steps if 8 <= a < 248)
    assert all(step == 16 for a, step in steps if a >= 256)


@pytest.mark.parametrize("sizes, words", [([1, 4, 4, 8], "strictly increasing"), ([0, 2], "positive"),
                                          ([], "positive")])
def test_bad_graph_sizes_are_refused_by_name(sizes, words, tmp_path):
    profile = roofline_profile("h100", "llama2-7b", "llama-68m", date="2026-12-06")
    document = profile.model_dump(mode="json")
    document["engine"]["cuda_graph_sizes"] = sizes
    path = tmp_path / "stairs.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SpecsimError, match="cuda_graph_sizes") as caught:
        load_profile(path)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_separate_engine_cannot_pad(tmp_path):
    with pytest.raises(SpecsimError, match="fused"):
        roofline_profile("h100", "llama2-7b", "llama-68m", composition="separate", cuda_graph_sizes=[1, 2])


class StairCost:
    """Step times by k with a jump at k = 1: goodput falls, then rises past it."""

    staircase = True
    times_s = (1.0, 2.2, 2.25, 2.3, 2.35)

    def uniform_step_s(self, batch: int, k: int, context: float) -> float:
        return self.times_s[k]


def test_goodput_searches_globally_on_a_staircase():
    view = SimpleNamespace(batch_size=1, cost=StairCost(), mean_context_tokens=100.0)
    alpha = np.array([0.9])
    # E(k) = 1, 1.9, 2.71, 3.44, 4.10; G = 1.1 (margin), 0.86, 1.20, 1.50, 1.74
    assert make_policy("goodput:k_max=4").choose_k(view, alpha) == 4
    assert make_policy("goodput:k_max=4,search=first_drop").choose_k(view, alpha) == 0
    smooth_cost = SimpleNamespace(staircase=False, uniform_step_s=StairCost().uniform_step_s)
    smooth = SimpleNamespace(batch_size=1, cost=smooth_cost, mean_context_tokens=100.0)
    assert make_policy("goodput:k_max=4").choose_k(smooth, alpha) == 0  # auto: first drop where smooth
    assert make_policy("goodput:k_max=4,search=global").choose_k(smooth, alpha) == 4


def test_auto_search_follows_the_profile(tmp_path):
    stairs = roofline_profile("h100", "llama2-7b", "llama-68m", date="2026-12-06",
                              acceptance=load_profile("h100-llama2-7b-llama-68m").acceptance,
                              cuda_graph_sizes=[4, 512])  # a steep stair: 5 tokens cost 512 tokens of compute
    path = save_profile(stairs, tmp_path / "stairs.json")
    scenario = poisson_scenario(8.0, 10.0, 200, 80, max_batch_size=32, profile=str(path))
    smooth = poisson_scenario(8.0, 10.0, 200, 80, max_batch_size=32, profile="h100-llama2-7b-llama-68m")
    for policy in ("adaptive", "goodput"):
        auto = simulate(scenario, policy, seed=1).steps
        forced = simulate(scenario, f"{policy}:search=global", seed=1).steps
        assert auto.drop(columns="policy").equals(forced.drop(columns="policy"))
        auto = simulate(smooth, policy, seed=1).steps
        forced = simulate(smooth, f"{policy}:search=first_drop", seed=1).steps
        assert auto.drop(columns="policy").equals(forced.drop(columns="policy"))
    # and the global search decides differently somewhere on the staircase
    global_steps = simulate(scenario, "adaptive:search=global", seed=1).steps
    first_drop = simulate(scenario, "adaptive:search=first_drop", seed=1).steps
    assert not global_steps[["drafted", "verified"]].equals(first_drop[["drafted", "verified"]])


def test_trim_fills_the_forward_to_a_captured_size_exactly():
    policy = make_policy("adaptive:trim=graph")
    cost = SimpleNamespace(graph_sizes=[1, 2, 4, 8, 16, 32], chunks_for=lambda tokens: [(5, 0)])
    view = SimpleNamespace(cost=cost, batch_size=4)
    # 4 rows + 12 drafted − 2 removed + a 5-token chunk = 19 tokens: 3 more go, to 16
    assert policy.trimmed_to_graph(view, count=12, removed=2) == 5
    # already a size: nothing more
    assert policy.trimmed_to_graph(view, count=12, removed=5) == 5
    # beyond the largest size the forward runs eagerly, unpadded: nothing more
    assert policy.trimmed_to_graph(view, count=40, removed=0) == 0
    # never more than every drafted token; under the smallest size there is nothing to fall to
    small = SimpleNamespace(cost=SimpleNamespace(graph_sizes=[1, 64], chunks_for=lambda tokens: []),
                            batch_size=3)
    assert policy.trimmed_to_graph(small, count=1, removed=0) == 1
    small.cost.graph_sizes = [8, 64]
    assert policy.trimmed_to_graph(small, count=1, removed=0) == 0


def test_trimmed_steps_fill_captured_sizes_in_simulation(tmp_path):
    sizes = [4, 8, 16, 24, 32, 48, 64]
    stairs = roofline_profile("h100", "llama2-7b", "llama-68m", date="2026-12-06",
                              acceptance=load_profile("h100-llama2-7b-llama-68m").acceptance,
                              cuda_graph_sizes=sizes)
    path = save_profile(stairs, tmp_path / "stairs.json")
    scenario = poisson_scenario(10.0, 10.0, 200, 80, max_batch_size=32, profile=str(path))
    steps = simulate(scenario, "adaptive:trim=graph", seed=1).steps
    verified = steps[(steps["verified"] > 0)]
    forward = verified["batch_size"] + verified["verified"] + verified["prefill_tokens"]
    inside = forward[(forward >= sizes[0]) & (forward <= sizes[-1])]
    assert len(inside) > 100
    assert inside.isin(sizes).all()


def test_a_global_search_counts_every_further_pass_tokens():
    # pass j adds the newest ĉ × c̄ʲ on top of the earlier ones: after 2 passes 1 + 0.5 + 0.25
    policy = make_policy("adaptive:search=global")
    policy.mean_acceptance = 0.5
    step_s = {1: 1.0, 2: 1.1}
    assert policy._rises(1.0, 1.0, 2, 1.55, step_s.__getitem__)  # 1.75 / 1.1 = 1.59 > 1.55
    assert not policy._rises(1.0, 1.0, 1, 1.55, step_s.__getitem__)  # one pass: 1.5 / 1.0
