"""Per-rank acceptance (schema 4): validated where it is read, sampled as documented, refused by
name where trees need what a profile or scenario cannot give."""

import json
from pathlib import Path

import numpy as np
import pytest

from sim import simulate
from specsim.errors import SpecsimError
from specsim.profile import DEFAULT_PROFILE, SHIPPED_DIR, load_profile
from specsim.profile.rank_acceptance import RankModel
from specsim.profile.summary import top_w_hit
from specsim.profile.synthetic import iid_acceptance, linear_profile
from tests.sim.scenarios import poisson_scenario


def _edited(tmp_path: Path, edit) -> Path:
    document = json.loads((SHIPPED_DIR / "h100-llama2-7b-llama-68m.json").read_text())
    edit(document["acceptance"]["greedy"]["chat"]["ranks"])
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(("edit", "field"), [
    (lambda ranks: ranks.update(probability_share=[0.7, 0.5]), "summing to at most 1"),
    (lambda ranks: ranks["match_given_probability"][0].append(0.5), "ranks.match_given_probability[0]"),
    (lambda ranks: ranks["match_given_probability"][1].__setitem__(0, 1.5), "must lie in [0, 1]"),
    (lambda ranks: ranks.update(probability_share=[]), "at least rank 2"),
])
def test_malformed_ranks_are_refused_naming_the_field(tmp_path, edit, field) -> None:
    with pytest.raises(SpecsimError) as caught:
        load_profile(_edited(tmp_path, edit))
    message = str(caught.value)
    assert "p.json" in message and field in message and "\n" not in message


def test_ranks_in_an_older_schema_are_refused(tmp_path) -> None:
    document = json.loads((SHIPPED_DIR / "h100-llama2-7b-llama-68m.json").read_text())
    document["schema_version"] = 3
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SpecsimError, match="ranks: needs schema_version 4"):
        load_profile(path)


def test_candidates_share_what_the_top_one_leaves_and_chances_stay_exclusive() -> None:
    acceptance = iid_acceptance(0.5, rank_match=(0.3, 0.4))
    model = RankModel(acceptance, ("chat",), branching=3)
    probabilities, match = model.candidates(np.zeros(2, dtype=np.int64), np.array([0.4, 0.9]),
                                            np.array([0.5, 0.5]))
    assert probabilities[0].tolist() == pytest.approx([0.4, 0.2, 0.2])  # shares 1/3 each of 1 − q₁
    assert probabilities[1].tolist() == pytest.approx([0.9, 0.1 / 3, 0.1 / 3])
    assert match.sum(axis=1) == pytest.approx([1.0, 1.0])  # 0.5 + 0.3 + 0.4 > 1: scaled to 1
    assert match[0].tolist() == pytest.approx([0.5 / 1.2, 0.3 / 1.2, 0.4 / 1.2])


def _small(**extra):
    return poisson_scenario(rate=2.0, duration_s=2.0, prompt_tokens=16, output_tokens=20, **extra)


def test_a_tree_on_a_profile_without_ranks_is_refused_by_name() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01, acceptance=iid_acceptance(0.6))
    with pytest.raises(SpecsimError, match=r"acceptance\.greedy\.chat\.ranks"):
        simulate(_small(), "static_tree:width=2", seed=1, profile=profile)
    # a width-1 tree needs only the sequence curve
    assert simulate(_small(), "static_tree:width=1", seed=1, profile=profile).summary["finished"] > 0


def test_a_tree_wider_than_the_profiles_ranks_is_refused() -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01,
                             acceptance=iid_acceptance(0.6, rank_match=(0.2,)))
    with pytest.raises(SpecsimError, match="knows ranks up to 2; the policy asks 3"):
        simulate(_small(), "static_tree:width=3", seed=1, profile=profile)


@pytest.mark.parametrize(("extra", "message"), [
    ({"acceptance": {"kind": "synthetic", "rates": [0.7]}}, "acceptance: synthetic acceptance"),
    ({"decoding": "sampling"}, "decoding: sampling: policy .slo_customized. drafts token trees"),
])
def test_what_trees_cannot_run_with_is_refused_by_name(extra, message) -> None:
    profile = linear_profile(draft_step_s=0.001, verify_base_s=0.01,
                             acceptance=iid_acceptance(0.6, rank_match=(0.2, 0.1, 0.1)))  # both modes
    with pytest.raises(SpecsimError, match=message):
        simulate(_small(**extra), "slo_customized", seed=1, profile=profile)


def test_the_shipped_default_profile_serves_trees() -> None:
    summary = simulate(_small(), "slo_customized", seed=1, profile=load_profile(DEFAULT_PROFILE)).summary
    assert summary["finished"] == summary["requests"] > 0 and summary["mean_accepted_length"] > 1


def test_profile_show_reports_what_a_wider_tree_could_hit() -> None:
    curve = iid_acceptance(0.5, rank_match=(0.2, 0.1)).greedy["chat"]
    assert [top_w_hit(curve, width) for width in (1, 2, 3)] == pytest.approx([0.5, 0.7, 0.8])
    capped = iid_acceptance(0.7, rank_match=(0.6,)).greedy["chat"]
    assert top_w_hit(capped, 2) == pytest.approx(1.0)  # exclusive events: never past 1
