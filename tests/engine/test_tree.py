"""Growing draft trees and following a target's choices down them (specsim/engine/tree.py)."""

import numpy as np
import pytest

from sim.tree_sampling import accepted_by_rank
from specsim.engine.tree import TreeBuilder, accepted_path, at_parent, check_selection
from specsim.policy.base import top_nodes
from specsim.policy.static_tree import StaticTree


def _two_requests():
    builder = TreeBuilder(2)
    builder.expand(np.array([[[0.6, 0.3]], [[0.9, 0.05]]]), np.array([2, 1]))
    builder.expand(np.array([[[0.5, 0.4], [0.8, 0.1]], [[0.7, 0.2], [np.nan, np.nan]]]), np.array([2, 2]))
    return builder.finish()[0]


def test_each_depth_keeps_the_candidates_of_highest_path_probability() -> None:
    tree = _two_requests()
    # request 0, depth 2: 0.6·0.5 = 0.30, then 0.6·0.4 = 0.24 ties 0.3·0.8 = 0.24: the earlier parent wins
    assert tree.path[0].tolist() == pytest.approx([0.6, 0.3, 0.3, 0.24])
    assert tree.parents[0].tolist() == [-1, -1, 0, 0] and tree.ranks[0].tolist() == [1, 2, 1, 2]
    # request 1 kept one node at depth 1, so depth 2 grows from it alone; padding past its size
    assert tree.sizes.tolist() == [4, 3]
    assert tree.parents[1].tolist() == [-1, 0, 0, -2] and tree.depths[1].tolist() == [1, 2, 2, 0]
    assert tree.depth_counts.tolist() == [[2, 2], [1, 2]]


def test_the_accepted_path_follows_the_targets_choices_through_selected_nodes() -> None:
    tree = _two_requests()
    everything = tree.depths > 0
    # request 0: the target picks rank 1 at the root, none below; request 1: rank 1, then rank 1
    choices = np.array([[0, 2, 0, 0], [1, 0, 0, 0]])
    assert accepted_by_rank(tree, everything, np.array([1, 1]), choices).tolist() == [1, 2]
    # the root's second candidate chosen: request 0 has it (node 1), request 1 never drafted it
    assert accepted_by_rank(tree, everything, np.array([2, 2]), choices).tolist() == [1, 0]
    # a matching node that was not selected is not accepted
    first_level = everything & (tree.depths == 1)
    assert accepted_by_rank(tree, first_level, np.array([1, 1]), choices).tolist() == [1, 1]
    # the path itself: request 1 went through node 0, then node 1
    pick = at_parent(tree, np.array([1, 1]), choices)
    assert accepted_path(tree, everything & (tree.ranks == pick)).tolist() == [[0, -1], [0, 1]]


def test_top_nodes_are_closed_under_ancestors() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        builder = TreeBuilder(5)
        for _ in range(4):
            frontier = builder.frontier_valid.shape[1]
            candidates = np.sort(rng.random((5, frontier, 3)), axis=2)[:, :, ::-1]
            builder.expand(candidates, rng.integers(1, 5, size=5))
        tree = builder.finish()[0]
        counts = rng.integers(0, 12, size=5)
        chosen = top_nodes(tree, counts)
        assert (chosen.sum(axis=1) == np.minimum(counts, tree.sizes)).all()
        check_selection(tree, chosen, counts, 100, StaticTree())  # raises if a parent is missing


@pytest.mark.parametrize(("edit", "message"), [
    (lambda chosen: chosen.__setitem__((0, 2), True), "without its parent"),
    (lambda chosen: chosen.__setitem__((1, 3), True), "padding"),
])
def test_a_bad_selection_is_the_policys_error(edit, message) -> None:
    tree = _two_requests()
    chosen = np.zeros_like(tree.depths, dtype=bool)
    edit(chosen)
    with pytest.raises(ValueError, match="static_tree:width=2,depth=4: select_nodes .*" + message):
        check_selection(tree, chosen, np.array([4, 4]), 8, StaticTree())


def test_a_selection_past_the_reserved_room_is_refused() -> None:
    tree = _two_requests()
    with pytest.raises(ValueError, match="max_draft_tokens"):
        check_selection(tree, tree.depths > 0, np.array([4, 4]), 3, StaticTree())
    with pytest.raises(ValueError, match="budgets"):
        check_selection(tree, tree.depths > 0, np.array([3, 3]), 8, StaticTree())
