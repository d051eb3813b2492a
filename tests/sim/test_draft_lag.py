"""A step's first draft pass feeds what each draft cache lacks (realrun's catch-up) and is priced
by the profile's first-pass grid at that width: 1 token after a prefill or a rejection, 2 after a
step that accepted every draft, one more per step a request did not draft."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import simulate
from sim.draft_lag import DraftLag
from specsim.engine.batch import DecodeBatch, RequestState
from specsim.profile.synthetic import iid_acceptance, linear_profile
from tests.sim.scenarios import assert_spans_match_step_by_step, poisson_scenario

DRAFT_S, VERIFY_S, PREFILL_S = 0.002, 0.02, 0.03
FIRST_PASS_S, PER_EXTRA_TOKEN_S = 0.005, 0.001


def batch_of(size: int) -> tuple[DecodeBatch, DraftLag]:
    decode = DecodeBatch(8)
    lag = DraftLag(decode)
    for index in range(size):
        decode.add(RequestState(index, 16, 32, 0.0, 0, 1.0, 0.05, 0.0))
    return decode, lag


def test_the_lag_follows_the_real_engines_draft_cache() -> None:
    _, lag = batch_of(3)
    drafted = np.array([2, 2, 0])
    assert lag.first_pass_tokens(drafted) == 1  # fresh from prefill
    lag.after_step(drafted, np.array([2, 1, 0]))  # all accepted, one rejected, not drafted
    assert lag.tokens[:3].tolist() == [2, 1, 2]
    lag.after_step(np.array([0, 1, 0]), np.array([0, 1, 0]))
    assert lag.tokens[:3].tolist() == [3, 2, 3]
    assert lag.first_pass_tokens(np.array([0, 1, 0])) == 2  # only rows that draft feed the pass
    assert lag.first_pass_tokens(np.array([0, 0, 0])) == 1


def test_rows_moved_or_added_keep_their_own_lag() -> None:
    decode, lag = batch_of(3)
    lag.tokens[:3] = [4, 5, 6]
    decode.take(0)  # the last row moves into row 0
    assert lag.tokens[:2].tolist() == [6, 5]
    decode.add(RequestState(9, 16, 32, 0.0, 0, 1.0, 0.05, 0.0))
    assert lag.tokens[:3].tolist() == [6, 5, 1]


def one_at_a_time(policy: str, acceptance: float, first_pass: bool) -> pd.DataFrame:
    profile = linear_profile(draft_step_s=DRAFT_S, verify_base_s=VERIFY_S, prefill_base_s=PREFILL_S,
                             acceptance=iid_acceptance(acceptance),
                             first_pass_s=FIRST_PASS_S if first_pass else None,
                             first_pass_per_token_s=PER_EXTRA_TOKEN_S)
    scenario = poisson_scenario(0.5, 60.0, prompt_tokens=16, output_tokens=7)
    requests = simulate(scenario, policy, seed=0, profile=profile).requests.sort_values("arrival_s")
    arrival, finish = requests["arrival_s"].to_numpy(), requests["finish_s"].to_numpy()
    alone = np.concatenate([[True], arrival[1:] >= finish[:-1]])
    assert alone.sum() > 20
    return requests[alone]


def decode_time_s(requests: pd.DataFrame) -> np.ndarray:
    return (requests["finish_s"] - requests["first_token_s"]).to_numpy()


def test_after_a_full_acceptance_the_first_pass_feeds_two_tokens() -> None:
    # 6 tokens after the prefill's first, all accepted: two steps of k = 2; the second one's first
    # pass catches up the draft that was proposed but never fed
    requests = one_at_a_time("fixed:k=2", 1.0, first_pass=True)
    step_s = VERIFY_S + DRAFT_S  # verify + the second draft pass
    expected = 2 * step_s + FIRST_PASS_S + (FIRST_PASS_S + PER_EXTRA_TOKEN_S)
    np.testing.assert_allclose(decode_time_s(requests), expected, rtol=1e-9)


def test_after_a_rejection_the_first_pass_feeds_one_token() -> None:
    # nothing accepted: one token a step; k = 2 while 3 or more are left, then k is capped to 1
    # and 0 — every first pass one token wide
    requests = one_at_a_time("fixed:k=2", 0.0, first_pass=True)
    expected = 4 * (FIRST_PASS_S + DRAFT_S + VERIFY_S) + (FIRST_PASS_S + VERIFY_S) + VERIFY_S
    np.testing.assert_allclose(decode_time_s(requests), expected, rtol=1e-9)


def test_without_a_first_pass_grid_every_pass_is_a_draft_step() -> None:
    requests = one_at_a_time("fixed:k=2", 1.0, first_pass=False)
    np.testing.assert_allclose(decode_time_s(requests), 2 * (2 * DRAFT_S + VERIFY_S), rtol=1e-9)


@pytest.mark.parametrize("acceptance", [0.5, 0.9])
def test_fixed_spans_price_the_first_pass_as_step_by_step(acceptance: float, monkeypatch) -> None:
    profile = linear_profile(draft_step_s=DRAFT_S, verify_base_s=VERIFY_S, prefill_base_s=PREFILL_S,
                             acceptance=iid_acceptance(acceptance), first_pass_s=FIRST_PASS_S,
                             first_pass_per_token_s=PER_EXTRA_TOKEN_S)
    scenario = poisson_scenario(4.0, 20.0, prompt_tokens=32, output_tokens=120, max_batch_size=8)
    assert_spans_match_step_by_step(scenario, "fixed:k=3", profile, monkeypatch)


def test_after_a_tree_the_first_pass_feeds_the_accepted_path_and_the_targets_token() -> None:
    # a one-wide tree two deep, every node accepted: 3 tokens a step. The draft fed its nodes as
    # scratch, so the second step's first pass feeds all three (a chain of k = 2 lacks only two)
    lag = DraftLag(batch_of(2)[0])
    lag.after_tree_step(np.array([3, 0]), np.array([2, 0]))
    assert lag.tokens[:2].tolist() == [3, 2]
    requests = one_at_a_time("static_tree:width=1,depth=2", 1.0, first_pass=True)
    step_s = VERIFY_S + DRAFT_S  # verify + the second draft pass
    expected = 2 * step_s + FIRST_PASS_S + (FIRST_PASS_S + 2 * PER_EXTRA_TOKEN_S)
    np.testing.assert_allclose(decode_time_s(requests), expected, rtol=1e-9)
