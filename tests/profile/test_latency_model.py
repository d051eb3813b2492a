"""Step-time queries: exact on the measured grid, between neighbours inside it, the fit (flagged)
outside it."""

from __future__ import annotations

import pytest

from specsim.profile import load_profile
from specsim.profile.latency import LatencyModel

PROFILE = load_profile("h100-llama2-7b-llama-68m-measured")


@pytest.fixture
def model() -> LatencyModel:
    return LatencyModel(PROFILE.latency)


def test_grid_points_are_returned_exactly(model: LatencyModel) -> None:
    grid = PROFILE.latency.verify
    for b, batch in enumerate(grid.batch_sizes):
        for t, tokens in enumerate(grid.tokens_per_request):
            for c, context in enumerate(grid.context_tokens):
                assert model.verify_s(batch, tokens, context) == pytest.approx(grid.time_s[b][t][c], rel=1e-9)
    assert model.extrapolated_queries == 0


def test_between_grid_points_lies_between_the_neighbours(model: LatencyModel) -> None:
    grid = PROFILE.latency.verify
    context = grid.context_tokens[-1]
    tokens = grid.tokens_per_request[0]
    for low, high in zip(grid.batch_sizes, grid.batch_sizes[1:], strict=False):
        if high - low < 2:
            continue
        middle = model.verify_s((low + high) // 2, tokens, context)
        ends = sorted((model.verify_s(low, tokens, context), model.verify_s(high, tokens, context)))
        assert ends[0] - 1e-12 <= middle <= ends[1] + 1e-12
    assert model.extrapolated_queries == 0


def test_outside_the_grid_uses_the_fit_and_is_counted(model: LatencyModel) -> None:
    grid = PROFILE.latency.verify
    largest_batch = grid.batch_sizes[-1]
    longest_context = grid.context_tokens[-1]
    inside = model.verify_s(largest_batch, 1, longest_context)
    beyond = model.verify_s(largest_batch * 4, 1, longest_context * 4)
    assert model.extrapolated_queries == 1 and model.queries == 2
    assert beyond > inside  # four times the batch and the context never costs less


def test_draft_and_prefill_queries_are_positive(model: LatencyModel) -> None:
    assert model.draft_step_s(8, 512) > 0
    assert model.prefill_s(2, 300, with_draft=True) > model.prefill_s(2, 300, with_draft=False) > 0


def test_off_grid_queries_price_by_the_fit_as_predict_does(model: LatencyModel) -> None:
    # the hot path evaluates the fit in plain floats; it must be the fit `predict` evaluates
    from specsim.profile.fit import predict

    latency = PROFILE.latency
    queries = ((1, 1.0, 64.0), (300, 1.0, 5000.0), (96, 4.5, 123.0), (7, 9.0, 20000.0))
    for grid, fit in ((model._draft, latency.draft_step.fit), (model._verify, latency.verify.fit)):
        for batch, tokens, context in queries:
            assert grid._fit_at(batch, tokens, context) == pytest.approx(
                float(predict(fit, batch, tokens, context)[0]), rel=1e-12)
