"""Token trees held to closed forms: in a full tree of width w and depth d where the draft's r-th
candidate is the target's choice with probability p_r (exclusive: the target picks one token), a
depth is passed with β = Σ_{r≤w} p_r and the accepted length is Σ_{j=1..d} βʲ; a tree of width 1
is a sequence, (1 − α^(k+1)) / (1 − α) tokens per step."""

import numpy as np
import pytest

from sim import simulate
from sim.tree_sampling import SampledTrees
from specsim.engine.batch import DecodeBatch
from specsim.profile.acceptance import AcceptanceModel
from specsim.profile.rank_acceptance import RankModel
from specsim.profile.synthetic import expected_tokens_per_step, iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario


def _trees(alpha: float, rank_match: tuple[float, ...], branching: int, rows: int) -> SampledTrees:
    acceptance = iid_acceptance(alpha, rank_match=rank_match)
    decode = DecodeBatch(rows)
    decode.size = rows  # category 0, latent 0: all the model reads
    trees = SampledTrees(AcceptanceModel(acceptance, ("chat",)), RankModel(acceptance, ("chat",), branching),
                         np.random.default_rng(7))
    trees.attach(decode)
    return trees


@pytest.mark.parametrize(("alpha", "rank_match", "width", "depth"), [
    (0.5, (0.2,), 2, 3),
    (0.4, (0.2, 0.15), 3, 2),
    (0.6, (0.3,), 1, 4),  # width 1: only the top candidate counts, β = α
])
def test_full_tree_accepts_the_closed_form(alpha, rank_match, width, depth) -> None:
    rows, steps = 4000, 25
    trees = _trees(alpha, rank_match, width, rows)
    widths = np.array([[width ** (level + 1) for level in range(depth)]] * rows)  # every node expanded
    accepted = []
    for _ in range(steps):
        tree = trees.draft_tree(widths, width)
        assert (tree.sizes == sum(width ** (level + 1) for level in range(depth))).all()
        accepted.append(trees.verify_tree(tree.depths > 0))
    beta = alpha + sum(rank_match[:width - 1])
    expected = sum(beta ** level for level in range(1, depth + 1))
    samples = np.concatenate(accepted)
    # 100k samples of a count with sd ≤ 1.2: the mean's sd is ≤ 0.004, well inside 1%
    assert samples.mean() == pytest.approx(expected, rel=0.01)


def test_chances_past_one_are_scaled_to_one() -> None:
    trees = _trees(0.7, (0.6,), 2, 2000)
    tree = trees.draft_tree(np.array([[2, 4]] * 2000), 2)
    # α + p₂ = 1.3 > 1: the target always picks one of the two candidates, so the full tree is
    # always accepted to its depth
    assert (trees.verify_tree(tree.depths > 0) == 2).all()


def test_unselected_nodes_are_never_accepted() -> None:
    trees = _trees(0.5, (0.3,), 2, 3000)
    tree = trees.draft_tree(np.array([[2, 4, 8]] * 3000), 2)
    only_top = tree.ranks == 1  # the top-candidate chain: closed under ancestors
    assert (trees.verify_tree(only_top & (tree.depths > 0)) <= 3).all()
    # the chain alone is a sequence: passes each depth with α
    assert trees.verify_tree(only_top).mean() == pytest.approx(0.5 + 0.25 + 0.125, rel=0.06)


@pytest.mark.parametrize(("alpha", "k"), [(0.6, 3), (0.8, 4)])
def test_width_one_tree_matches_the_sequence_closed_form(alpha: float, k: int) -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, prefill_base_s=0.01,
                             acceptance=iid_acceptance(alpha))
    expected = expected_tokens_per_step(alpha, k)
    scenario = poisson_scenario(rate=0.5, duration_s=40, prompt_tokens=16, output_tokens=int(600 * expected))
    steps = simulate(scenario, f"static_tree:width=1,depth={k}", seed=3, profile=profile).steps
    full = steps[(steps["batch_size"] == 1) & (steps["drafted"] == k)]
    assert len(full) > 8_000
    # tokens per step have sd ≤ 1.5 here: over ≥ 8k steps the mean's sd is ≤ 0.6% of expected, so
    # 2.5% is over 4σ
    assert (full["accepted"] + 1).mean() == pytest.approx(expected, rel=0.025)
