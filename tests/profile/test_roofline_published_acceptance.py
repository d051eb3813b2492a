"""Published acceptance: the reporting fields follow from the sampling model, and the model
reproduces the figures it was calibrated to."""

import numpy as np
import pytest
from scipy.special import ndtr

from specsim.profile import DEFAULT_PROFILE, load_profile
from specsim.profile.confidence_model import (
    heuristic_schedule_mean_tokens,
    iid_mean_accepted_length,
    latent_quadrature,
    survival_given_latent,
)
from specsim.profile.published import (
    CATEGORIES,
    CONFIDENCE_BIN_EDGES,
    category_acceptance,
    derived_mean_accepted_tokens,
    iid_alpha_for_heuristic_schedule,
    is_published_pair,
)


@pytest.fixture(scope="module")
def acceptance():
    return load_profile(DEFAULT_PROFILE).acceptance


def _constant_curve():
    bins = len(CONFIDENCE_BIN_EDGES) - 1
    hist = np.tile(np.linspace(1.0, 3.0, bins) / np.linspace(1.0, 3.0, bins).sum(), (8, 1))
    accept = np.linspace(0.1, 0.95, bins)
    return hist, accept, float(hist[0] @ accept)


def test_constant_alpha_gives_the_closed_form():
    hist, accept, alpha = _constant_curve()
    curve = category_acceptance(hist, accept, request_share=0.0)
    for k in range(1, 9):
        closed_form = iid_mean_accepted_length(alpha, k)
        assert curve.mean_accepted_length[k - 1] == pytest.approx(closed_form, rel=1e-5)
        assert curve.position_acceptance[k - 1] == pytest.approx(alpha**k, rel=1e-5)


def test_correlation_keeps_the_first_position_and_raises_later_ones():
    hist, accept, alpha = _constant_curve()
    independent = category_acceptance(hist, accept, request_share=0.0)
    correlated = category_acceptance(hist, accept, request_share=0.3)
    assert correlated.position_acceptance[0] == pytest.approx(alpha, rel=1e-5)
    # requests that got past position 1 are the easier ones: later positions survive more often
    assert all(c > i for c, i in zip(correlated.position_acceptance[1:], independent.position_acceptance[1:],
                                     strict=True))


def test_position_acceptance_matches_sampling_the_documented_model(acceptance):
    """Monte Carlo of CategoryAcceptance's sampling model against the quadrature."""
    curve = acceptance.greedy["chat"]
    rng = np.random.default_rng(7)
    requests, lam = 40_000, curve.request_share
    hist = np.asarray(curve.confidence_hist_by_position)
    cumulative = np.cumsum(hist, axis=1)
    z = rng.standard_normal(requests)
    prefix_alive = np.ones(requests, dtype=bool)
    for position in range(hist.shape[0]):
        quantile = ndtr(np.sqrt(lam) * z + np.sqrt(1 - lam) * rng.standard_normal(requests))
        bins = np.minimum(np.searchsorted(cumulative[position], quantile), hist.shape[1] - 1)
        accepted = rng.random(requests) < np.asarray(curve.accept_given_confidence)[bins]
        prefix_alive &= accepted
        expected = curve.position_acceptance[position]
        assert prefix_alive.mean() == pytest.approx(expected, abs=4 * np.sqrt(expected / requests) + 1e-3)


def test_heuristic_schedule_matches_a_simulated_chain():
    alpha, rng = 0.6, np.random.default_rng(3)
    k, tokens, steps = 5, 0, 20_000
    for _ in range(steps):
        accepted = 0
        while accepted < k and rng.random() < alpha:
            accepted += 1
        tokens += accepted + 1
        k = min(k + 2, 8) if accepted == k else max(k - 1, 1)
    exact = heuristic_schedule_mean_tokens(alpha ** np.arange(1, 9))
    assert tokens / steps == pytest.approx(exact, rel=0.02)


def test_shipped_curves_reproduce_the_derived_published_figures(acceptance):
    derived = derived_mean_accepted_tokens()
    z, weights = latent_quadrature()
    assert set(acceptance.greedy) == set(CATEGORIES)
    for name, curve in acceptance.greedy.items():
        survival = survival_given_latent(curve.confidence_hist_by_position, curve.accept_given_confidence,
                                         curve.request_share, z)
        assert heuristic_schedule_mean_tokens(survival, weights) == pytest.approx(derived[name], rel=1e-4)
        lengths = np.asarray(curve.mean_accepted_length)
        assert np.all(np.diff(lengths) > 0) and lengths[-1] < 9
        assert np.allclose(lengths, 1 + np.cumsum(curve.position_acceptance), rtol=1e-5)
    assert acceptance.source == "published" and acceptance.max_draft_tokens == 8
    assert any("2401.07851" in c for c in acceptance.citations)
    assert any("modelled, not published" in c for c in acceptance.citations)


def test_derived_figures_follow_spec_bench():
    derived = derived_mean_accepted_tokens()
    # Spec-Bench SpS: translation is by far the hardest task, conversation among the easiest
    assert derived["translation"] < min(v for k, v in derived.items() if k != "translation")
    assert derived["chat"] == max(derived.values())
    assert derived["code"] == pytest.approx((2.28 + 2.29) / 2)
    alpha = iid_alpha_for_heuristic_schedule(derived["code"])
    assert heuristic_schedule_mean_tokens(alpha ** np.arange(1, 9)) == pytest.approx(derived["code"])
    assert 0.5 < alpha < 0.8


def test_published_pairs():
    assert is_published_pair("llama2-7b", "llama-68m")
    assert not is_published_pair("llama3-8b", "llama3.2-1b")
