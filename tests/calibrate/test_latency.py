"""calibrate.latency times every forward where the real engine runs it: inside steps of draft
passes followed by a verify pass, through realrun's slot cache, prefill target-then-draft."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from calibrate.latency import DecodeWalks, PrefillWalks, measure_decode, measure_prefill, walk_spread
from calibrate.timing import Timer
from tests.calibrate.stepped_clock import SteppedClock


class Recording:
    """A model that notes each forward's shape and cache state, then runs the real model."""

    def __init__(self, name: str, model, calls: list[tuple]) -> None:
        self.name, self.model, self.calls = name, model, calls
        self.config = model.config

    def __call__(self, **inputs):
        cache = inputs.get("cache", inputs.get("past_key_values"))  # realrun.models.with_cache
        ids = inputs["input_ids"]
        keep = inputs.get("logits_to_keep")
        keep = keep.tolist() if isinstance(keep, torch.Tensor) else keep  # positions, or a count
        self.calls.append((self.name, ids.shape[0], ids.shape[1], tuple(cache.start.tolist()),
                           inputs["attention_mask"].dim(), keep))
        # the engine's inputs: positions continue each row's cache
        assert torch.equal(inputs["position_ids"][:, 0].cpu(), cache.start)
        return self.model(**inputs)


def recording(models, calls: list[tuple]) -> tuple[Recording, Recording]:
    target, draft = models
    return Recording("target", target, calls), Recording("draft", draft, calls)


def timer(repeats: int, clock=None) -> Timer:
    if clock is None:
        return Timer("cpu", warmup=0, repeats=repeats, budget_s=60.0, passes=1)
    return Timer("cpu", warmup=0, repeats=repeats, budget_s=60.0, passes=1, clock=clock)


def test_decode_forwards_run_in_engine_steps(tiny_models):
    calls: list[tuple] = []
    target, draft = recording(tiny_models, calls)
    times = measure_decode(target, draft, (1, 2), (1, 3), (8,), timer(2), torch.float32, "cpu",
                           first_pass_tokens=(1, 3))

    def step(batch: int, q: int, first_pass_tokens: int = 1) -> list[tuple]:
        # the first pass feeds what the draft cache lacks: it starts first_pass_tokens − 1 short
        start = 8 - (first_pass_tokens - 1)
        drafts = [("draft", batch, first_pass_tokens, (start,) * batch, 4, None)]
        drafts += [("draft", batch, 1, (8 + j,) * batch, 4, None) for j in range(1, q - 1)]
        return [*drafts, ("target", batch, q, (8,) * batch, 4, None)]

    # plain steps first, back to back; then steps that draft; then a first pass of 3 tokens
    one_round = step(1, 1)[1:] + step(2, 1)[1:] + step(1, 3) + step(2, 3) + step(1, 2, 3) + step(2, 2, 3)
    assert calls == one_round * 2  # each step starts from the context: rolled back after verify
    assert [len(row) for row in times.draft_step_s] == [1, 1]
    assert [[len(q) for q in row] for row in times.verify_s] == [[1, 1], [1, 1]]
    assert [[len(w) for w in row] for row in times.first_pass_s] == [[1, 1], [1, 1]]
    assert all(t > 0 for row in times.draft_step_s for t in row)


def test_decode_needs_a_step_with_drafts(tiny_models):
    with pytest.raises(ValueError, match="q > 1"):
        measure_decode(*tiny_models, (1,), (1,), (8,), timer(1), torch.float32, "cpu")


def test_prefill_runs_the_engines_calls_target_then_draft_into_empty_slots(tiny_models):
    calls: list[tuple] = []
    target, draft = recording(tiny_models, calls)
    target_grid, draft_grid = measure_prefill(target, draft, (1, 2), (4, 6), timer(1), torch.float32, "cpu")
    points = [(1, 4), (1, 6), (2, 4), (2, 6)]
    # the target keeps the logits at the prompts' last position (the engine's first tokens), the
    # draft only the last one
    assert calls == [call for b, p in points
                     for call in (("target", b, p, (0,) * b, 4, [p - 1]), ("draft", b, p, (0,) * b, 4, 1))]
    assert len(target_grid) == len(draft_grid) == 2 and len(target_grid[0]) == 2


def test_decode_times_are_the_engines_backend_calls(tiny_models, monkeypatch):
    """The engine books its host work around each forward (token choice after a draft pass,
    acceptance after a verify) as draft/verify time; so must the grid: slowing those steps of the
    real backend slows the grid's points by as much."""
    import realrun.backend

    target, draft = tiny_models
    grid = ((1,), (1, 3), (8,))
    clock = SteppedClock()  # the forwards take no time on it; only what the test adds counts
    fast = measure_decode(target, draft, *grid, timer(5, clock), torch.float32, "cpu")

    def slowed(function):
        def run(*args, **kwargs):
            clock.advance(0.02)
            return function(*args, **kwargs)
        return run

    monkeypatch.setattr(realrun.backend, "propose", slowed(realrun.backend.propose))
    monkeypatch.setattr(realrun.backend, "accept_greedy", slowed(realrun.backend.accept_greedy))
    slow = measure_decode(target, draft, *grid, timer(5, clock), torch.float32, "cpu")
    assert fast.draft_step_s[0][0] == 0.0 and slow.draft_step_s[0][0] == pytest.approx(0.02)
    for width in (0, 1):  # first passes of 1 and 2 tokens
        assert fast.first_pass_s[0][width][0] == 0.0
        assert slow.first_pass_s[0][width][0] == pytest.approx(0.02)
    for q in (0, 1):  # plain steps and verify passes of 3 tokens
        assert fast.verify_s[0][q][0] == 0.0 and slow.verify_s[0][q][0] == pytest.approx(0.02)


def test_prefill_times_are_the_engines_prefill_calls(tiny_models, monkeypatch):
    """The engine books the host work around its prefill forwards (padding the chunks, choosing
    the first tokens) as prefill time; so must the grid: slowing the engine's choice of the first
    tokens slows the target's prefill points by as much, and not the draft's."""
    import realrun.acceptance
    import realrun.prefill

    target, draft = tiny_models
    clock = SteppedClock()  # the forwards take no time on it; only what the test adds counts
    grid = ((1, 2), (4,))
    fast_target, fast_draft = measure_prefill(target, draft, *grid, timer(3, clock), torch.float32, "cpu")

    def slowed(*args, **kwargs):
        clock.advance(0.02)
        return realrun.acceptance.next_token(*args, **kwargs)

    monkeypatch.setattr(realrun.prefill, "next_token", slowed)
    slow_target, slow_draft = measure_prefill(target, draft, *grid, timer(3, clock), torch.float32, "cpu")
    assert fast_target == [[0.0], [0.0]] and fast_draft == slow_draft == [[0.0], [0.0]]
    np.testing.assert_allclose(slow_target, [[0.02], [0.02]])


class Costing(Recording):
    """A model whose forward costs, on a stepped clock, what its work says: a fixed part, plus per
    new token, plus per (new token × cached token) — so every grid must come out strictly
    monotone, whatever else the machine is doing."""

    def __init__(self, name: str, model, clock: SteppedClock, scale: float) -> None:
        super().__init__(name, model, [])
        self.clock, self.scale = clock, scale

    def __call__(self, **inputs):
        output = super().__call__(**inputs)
        cache = inputs.get("cache", inputs.get("past_key_values"))
        batch, new = inputs["input_ids"].shape
        cached = float(cache.start.float().mean())
        self.clock.advance(self.scale * (1e-3 + 1e-5 * batch * new + 1e-8 * batch * new * (cached + new)))
        return output


def test_grids_follow_the_work_of_each_forward(tiny_models):
    # the engine-shaped steps feed each point's forwards with its own batch, tokens and cache:
    # a mix-up of cache rows or shapes would break the order the work imposes
    clock = SteppedClock()
    target = Costing("target", tiny_models[0], clock, 5.0)
    draft = Costing("draft", tiny_models[1], clock, 1.0)
    times = measure_decode(target, draft, (1, 2, 4), (1, 3), (16, 64), timer(3, clock), torch.float32,
                           "cpu", first_pass_tokens=(1, 3))
    verify = np.asarray(times.verify_s)  # [batch][q][context]
    for grid, axes in ((verify, (0, 1, 2)), (np.asarray(times.draft_step_s), (0, 1)),
                       (np.asarray(times.first_pass_s), (0, 1, 2))):
        for axis in axes:
            assert np.all(np.diff(grid, axis=axis) > 0), (axis, grid)
    target_prefill, draft_prefill = measure_prefill(target, draft, (1, 2), (8, 32), timer(3, clock),
                                                    torch.float32, "cpu")
    for grid in (np.asarray(target_prefill), np.asarray(draft_prefill)):
        assert np.all(np.diff(grid, axis=0) > 0) and np.all(np.diff(grid, axis=1) > 0)
    assert np.all(verify[:, 0, :] > np.asarray(times.draft_step_s))  # the target is the expensive one


def test_walk_spread_is_the_walks_disagreement_over_the_pooled_median():
    # a point timed 1 s in one walk and 1.2 s in the other: pooled median 1.1 s
    assert walk_spread([[[1.0, 1.0, 1.0], [1.2, 1.2, 1.2]]]) == pytest.approx(0.2 / 1.1)
    # the median over points
    assert walk_spread([[[1.0], [1.0]], [[1.0], [1.5]], [[2.0], [3.0]]]) == pytest.approx(0.4)
    assert np.isnan(walk_spread([[[1.0, 2.0]]]))  # one walk: nothing to compare


def test_a_slow_walk_spoils_its_walk_not_the_grid(tiny_models):
    """The machine runs at half speed through the second of three walks (interleaved in a
    calibration with the other grid's): every point keeps the steady machine's median, and the
    walks' spread reads the slow spell — a point's walks at t, 2t, t differ by its median."""
    clock = SteppedClock()
    target = Costing("target", tiny_models[0], clock, 5.0)
    draft = Costing("draft", tiny_models[1], clock, 1.0)
    steady_timer, walks_timer = (Timer("cpu", warmup=0, repeats=9, budget_s=60.0, passes=3, clock=clock)
                                 for _ in range(2))
    grid = ((1, 2), (1, 3), (16,))
    steady = measure_decode(target, draft, *grid, steady_timer, torch.float32, "cpu")
    steady_prefill = measure_prefill(target, draft, (1, 2), (8,), steady_timer, torch.float32, "cpu")
    decode = DecodeWalks(target, draft, *grid, walks_timer, torch.float32, "cpu")
    prefill = PrefillWalks(target, draft, (1, 2), (8,), walks_timer, torch.float32, "cpu")
    for walk in range(3):
        target.scale, draft.scale = (10.0, 2.0) if walk == 1 else (5.0, 1.0)
        prefill.walk()
        decode.walk()
    times = decode.times()
    for name in ("draft_step_s", "verify_s", "first_pass_s"):
        np.testing.assert_allclose(getattr(times, name), getattr(steady, name), rtol=1e-9)
    np.testing.assert_allclose(prefill.times(), steady_prefill, rtol=1e-9)
    assert decode.walk_spread() == pytest.approx(1.0)
    assert prefill.walk_spread() == pytest.approx(1.0)
