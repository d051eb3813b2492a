"""The summary statistics on synthetic records whose true values are known."""

import numpy as np
import pytest

from calibrate.acceptance_stats import SpeculationRecords, confidence_bins, request_share, summarise


def iid_records(alpha: float, k: int, steps: int, seed: int = 0) -> SpeculationRecords:
    rng = np.random.default_rng(seed)
    accept = (rng.random((steps, k)) < alpha).astype(float)
    accepted = np.cumprod(accept, axis=1).sum(axis=1).astype(int)
    return SpeculationRecords(confidence=rng.random((steps, k)), accept=accept, accepted=accepted,
                              request=np.arange(steps) // 10)


def test_iid_acceptance_gives_the_textbook_expected_length():
    alpha, k = 0.7, 6
    curve = summarise(iid_records(alpha, k, steps=40_000))
    for length in range(1, k + 1):
        expected = (1 - alpha ** (length + 1)) / (1 - alpha)
        assert curve.mean_accepted_length[length - 1] == pytest.approx(expected, rel=0.02)
    assert curve.position_acceptance[0] == pytest.approx(alpha, abs=0.01)
    assert all(abs(sum(row) - 1) < 1e-9 for row in curve.confidence_hist_by_position)
    # acceptance does not depend on confidence here: every bin near alpha
    assert np.allclose(curve.accept_given_confidence, alpha, atol=0.03)


def test_accept_given_confidence_counts_only_tokens_after_accepted_ones():
    # step 0: positions 1, 2 accepted, 3 rejected, 4 never reached (its accept value must not count)
    records = SpeculationRecords(
        confidence=np.array([[0.95, 0.95, 0.05, 0.05]]),
        accept=np.array([[1.0, 1.0, 0.0, 1.0]]),
        accepted=np.array([2]),
        request=np.array([0]),
    )
    curve = summarise(records)
    assert curve.accept_samples_by_bin[9] == 2 and curve.accept_samples_by_bin[0] == 1
    assert curve.accept_given_confidence[9] == 1.0 and curve.accept_given_confidence[0] == 0.0
    assert curve.position_acceptance == [1.0, 1.0, 0.0, 0.0]
    assert curve.mean_accepted_length == [2.0, 3.0, 3.0, 3.0]


def test_empty_bins_are_interpolated_and_flagged_by_zero_samples():
    records = SpeculationRecords(confidence=np.array([[0.15], [0.85]]), accept=np.array([[0.2], [1.0]]),
                                 accepted=np.array([0, 1]), request=np.array([0, 1]))
    curve = summarise(records)
    assert curve.accept_samples_by_bin[5] == 0
    assert 0.2 < curve.accept_given_confidence[5] < 1.0
    assert curve.accept_given_confidence[0] == pytest.approx(0.2)


def test_confidence_one_falls_in_the_last_bin():
    edges = np.linspace(0, 1, 11)
    assert confidence_bins(np.array([0.0, 0.1, 0.999, 1.0]), edges).tolist() == [0, 1, 9, 9]


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7])
def test_request_share_recovers_the_shared_variance(share):
    rng = np.random.default_rng(1)
    requests, steps_per_request, k = 400, 12, 4
    latent = np.repeat(rng.normal(size=requests), steps_per_request)[:, None]
    scores = np.sqrt(share) * latent + np.sqrt(1 - share) * rng.normal(size=(requests * steps_per_request, k))
    confidence = 1 / (1 + np.exp(-scores))  # any monotone map: λ is rank-based
    estimate = request_share(confidence, np.repeat(np.arange(requests), steps_per_request))
    assert estimate == pytest.approx(share, abs=0.05)


def test_rank_curves_recover_known_shares_and_match_rates():
    """Candidates 2..5 with known probabilities and known chances of being the target's choice,
    counted only where the step reached the position."""
    rng = np.random.default_rng(11)  # not the records' seed: its draws would mirror theirs
    steps, k = 20_000, 3
    records = iid_records(0.6, k, steps, seed=5)
    left = 1.0 - records.confidence
    shares = np.array([0.4, 0.2, 0.1, 0.05])
    probability = left[:, :, None] * shares[None, None, :]
    match = np.zeros((steps, k, 4))
    # where the draft's own token was rejected, the target picks candidate 2 half the time
    rejected = records.accept == 0.0
    match[..., 0] = rejected & (rng.random((steps, k)) < 0.5)
    records.rank_probability, records.rank_match = probability, match
    ranks = summarise(records).ranks
    assert ranks is not None
    assert ranks.probability_share == pytest.approx(shares.tolist(), rel=1e-9)
    eligible = records.accepted[:, None] >= np.arange(k)[None, :]
    measured = np.average(ranks.match_given_probability[0], weights=ranks.match_samples_by_bin[0])
    assert measured == pytest.approx(match[eligible][:, 0].mean(), rel=1e-9)
    assert measured == pytest.approx(0.5 * 0.4, abs=0.015)  # P(rejected) · ½
    assert sum(ranks.match_samples_by_bin[0]) == int(eligible.sum())
    assert all(value == 0 for row in ranks.match_given_probability[1:] for value in row)


def test_records_without_candidates_give_no_rank_curves():
    assert summarise(iid_records(0.6, 3, 100)).ranks is None
