"""Token trees on the real engine stay lossless: every request's tokens equal the target's own
greedy output, with fixed-shape trees and with slo_customized's selected subtrees, in batches."""

from __future__ import annotations

import pytest

from realrun.serve import serve
from specsim.errors import SpecsimError
from tests.realrun.conftest import small_scenario
from tests.realrun.test_greedy_lossless import _check


@pytest.mark.parametrize(("policy", "batch"), [
    ("static_tree:width=2,depth=3", 1), ("static_tree:width=3,depth=2", 4),
    ("static_tree:width=3,depth=3,nodes=5", 4), ("slo_customized:max_tokens=24", 4),
])
def test_tree_runs_match_generate(tiny_pair, tiny_models, policy, batch):
    _, target_dir, draft_dir = tiny_pair
    scenario = small_scenario(max_batch_size=batch, count=4 if batch > 1 else 2)
    result = serve(scenario, policy, 3, target_dir, draft_dir, show_progress=False)
    requests = result.requests
    assert requests["accepted_tokens"].sum() > 0
    assert (requests["drafted_tokens"] > requests["steps"]).all()  # trees: several nodes a step
    _check(result, tiny_models[0])


def test_trees_refuse_sampling_by_name(tiny_pair):
    _, target_dir, draft_dir = tiny_pair
    with pytest.raises(SpecsimError, match="decoding: sampling: policy 'static_tree:width=2,depth=4' drafts"):
        serve(small_scenario(decoding="sampling"), "static_tree", 0, target_dir, draft_dir,
              show_progress=False)
