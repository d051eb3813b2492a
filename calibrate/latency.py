"""Measure the forwards an engine runs — prefill, draft steps, verify passes — the way the real
engine (`realrun`) runs them.

Decode steps are the engine's own backend calls (`realrun.backend.RealSpeculation.draft_pass` and
`verify`) over realrun's slot KV cache (preallocated slots, a 4-D mask), filled with random
keys/values (latency does not depend on them), in the engine's order: a speculative step of k is
k draft passes, one token per request each, then the target's verify pass of k + 1 tokens per
request. Both choices are measured effects on the 2-core CPU:
- the order: timed back to back, a model's weights stay warm in the caches, and the tiny pair's
  draft step looked up to twice as fast — the verify pass 20-40% faster — than inside the
  engine's steps, where each model evicts the other (`benchmarks/forward_order.py`; VALIDATION.md history);
- the backend call, not the bare forward: the engine books the host work around each forward
  (choosing and storing draft tokens and confidences; gathering, accepting, appending after a
  verify) inside its draft and verify times — 0.35-0.55 ms per draft pass and 0.73-1.06 ms per
  verify on the tiny pair, a quarter of a draft pass (`benchmarks/host_time.py`).
So:
- verify(b, q, c) is the verify call of q tokens that ends a step with q − 1 draft passes; plain
  steps (q = 1) run back to back, as plain decoding runs them;
- draft_first_pass(b, w, c) is a step's first draft pass, right after a verify: in real runs of
  the tiny pair it took 1.10-1.23x a later pass at one token (the target's forward has just
  evicted the draft's weights) and 0.30-0.45 ms more at two (the catch-up after a full
  acceptance), which a pooled grid priced alike (`benchmarks/draft_passes.py`, two runs); widths
  w > 1 come from steps whose draft cache starts w − 1 tokens short, as the engine's does;
- draft_step(b, c) pools the passes after the first: right after a calibration the engine's
  second passes ran 1.01-1.21x this price and its third and later ones 0.84-1.10x (two runs of
  `benchmarks/draft_passes.py`, 2026-12-01); one price for both is within the machine's noise.
- prefill(b, p) is the engine's own prefill calls (`realrun.prefill`), target then draft, into
  empty slots: the forwards and the host work the engine books with them (1-2% of a tiny-pair
  prefill on the CPU over its bare forward).
Rollback between samples is the engine's own: each slot's length is set back (no copy).

Grids are stored as measured. CPU matrix products have real jumps between shapes (ENGINE-NOTES):
nothing is smoothed or forced monotone here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from calibrate.timing import Timer
from realrun.backend import RealSpeculation
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import with_cache
from realrun.prefill import PrefillChunks, prefill_draft, prefill_target


def random_slots(model, slots: int, capacity: int, dtype: torch.dtype, device: str) -> SlotKV:
    kv = SlotKV(model.config, slots, capacity, device, dtype)
    for tensor in kv.keys + kv.values:
        tensor.normal_()
    return kv


def slot_forward(model, kv: SlotKV, rows: torch.Tensor | None, ids: torch.Tensor, **extra) -> None:
    """One forward as realrun's backend runs it: build the batch cache (positions, 4-D mask), run,
    commit the new tokens."""
    count = ids.shape[0]
    new_tokens = torch.full((count,), ids.shape[1], dtype=torch.long)
    cache = kv.batch(rows, count, new_tokens)
    model(input_ids=ids, attention_mask=cache.mask, position_ids=cache.position_ids,
          **with_cache(model, cache), use_cache=True, **extra)
    cache.commit(new_tokens)


@dataclass
class DecodeTimes:
    """Medians per grid point (seconds)."""

    draft_step_s: list[list[float]]  # [batch][context]: draft passes after a step's first
    verify_s: list[list[list[float]]]  # [batch][tokens per request][context]
    first_pass_s: list[list[list[float]]]  # [batch][tokens fed per request][context]


class DecodeWalks:
    """The draft, verify and first-draft-pass grids, timed walk by walk: each `walk` times every
    point once more (`timer.passes` walks make a full measurement), in the order opposite to the
    walk before, so that a calibration can interleave these walks with the prefill grid's and
    spread each grid over its whole duration (`measure_decode` runs them back to back).

    For each context, as many batch sizes as have caches fitting in `interleave_bytes` together
    are timed round-robin with every q, each forward inside engine-shaped steps (module
    docstring); each point keeps the median of all its walks' samples (`calibrate.timing`)."""

    def __init__(self, target, draft, batch_sizes, tokens_per_request, context_tokens, timer: Timer,
                 dtype: torch.dtype, device: str, tick: Callable[[], object] = lambda: None,
                 interleave_bytes: int = 512 * 2**20, first_pass_tokens=(1, 2)) -> None:
        if not any(q > 1 for q in tokens_per_request):
            raise ValueError("the verify grid needs a point with q > 1: draft steps are timed inside steps")
        if first_pass_tokens[0] != 1:
            raise ValueError("first_pass_tokens must start at 1 "
                             "(a draft cache that lacks only the last token)")
        self.target, self.draft, self.timer, self.dtype, self.device = target, draft, timer, dtype, device
        self.batch_sizes, self.tokens_per_request = tuple(batch_sizes), tuple(tokens_per_request)
        self.context_tokens, self.first_pass_tokens = tuple(context_tokens), tuple(first_pass_tokens)
        self.tick = tick
        slots = max(tokens_per_request)

        def request_bytes(context: int) -> int:  # both models' slots for one request, as allocated
            capacity = context + slots + 1
            return sum(SlotKV.bytes_needed(model.config, 1, capacity, dtype) for model in (target, draft))

        self.blocks = [(c, group) for c, context in enumerate(context_tokens)
                       for group in _groups(batch_sizes, request_bytes(context), interleave_bytes)]
        # (role, b, q or width index, c) → one list of samples per walk
        self.samples: dict[tuple[str, int, int, int], list[list[float]]] = {}
        self.walks = 0

    @torch.inference_mode()
    def walk(self) -> None:
        blocks = self.blocks if self.walks % 2 == 0 else self.blocks[::-1]
        for c, group in blocks:
            batches = [self.batch_sizes[b] for b in group]
            block = _step_samples(self.target, self.draft, batches, self.tokens_per_request,
                                  self.first_pass_tokens, self.context_tokens[c], self.timer, self.dtype,
                                  self.device)
            for (role, position, index), times in block.items():
                self.samples.setdefault((role, group[position], index, c), []).append(times)
            for _ in range(len(group) * (len(self.tokens_per_request) + len(self.first_pass_tokens))):
                self.tick()
        self.walks += 1

    def times(self) -> DecodeTimes:
        def median(key: tuple[str, int, int, int]) -> float:
            return self.timer.median([time for walk in self.samples[key] for time in walk])

        contexts, batches = range(len(self.context_tokens)), range(len(self.batch_sizes))
        first_pass = [[[median(("first", b, w, c)) for c in contexts]
                       for w in range(len(self.first_pass_tokens))] for b in batches]
        later = "later" if any(key[0] == "later" for key in self.samples) else "first"  # k ≤ 1: no later pass
        draft_step = [[median((later, b, 0, c)) for c in contexts] for b in batches]
        verify = [[[median(("verify", b, q, c)) for c in contexts]
                   for q in range(len(self.tokens_per_request))] for b in batches]
        return DecodeTimes(draft_step, verify, first_pass)

    def walk_spread(self) -> float:
        return walk_spread(list(self.samples.values()))


def measure_decode(target, draft, batch_sizes, tokens_per_request, context_tokens, timer: Timer,
                   dtype: torch.dtype, device: str, tick: Callable[[], object] = lambda: None,
                   interleave_bytes: int = 512 * 2**20, first_pass_tokens=(1, 2)) -> DecodeTimes:
    """The decode grids (`DecodeWalks`), their `timer.passes` walks back to back."""
    walks = DecodeWalks(target, draft, batch_sizes, tokens_per_request, context_tokens, timer, dtype, device,
                        tick, interleave_bytes, first_pass_tokens)
    for _ in range(timer.passes):
        walks.walk()
    return walks.times()


def walk_spread(samples_per_walk: list[list[list[float]]]) -> float:
    """How far apart a grid's walks put its points: per point, the largest minus the smallest of
    its walks' medians over the median of all its samples; the median over points (NaN with one
    walk). It measures how well this machine reproduces a point from one moment to the next —
    each walk's median also carries its few samples' own noise, which pooling shrinks, so it
    overstates the noise of the pooled median and understates nothing a slow spell does."""
    spreads = []
    for walks in samples_per_walk:
        pooled = float(np.median([time for walk in walks for time in walk]))
        if len(walks) > 1 and pooled > 0:
            medians = [float(np.median(walk)) for walk in walks]
            spreads.append((max(medians) - min(medians)) / pooled)
    return float(np.median(spreads)) if spreads else math.nan


def _step_samples(target, draft, batches, tokens_per_request, first_pass_tokens, context, timer, dtype,
                  device) -> dict[tuple[str, int, int], list[float]]:
    """One pass over the block's steps, round-robin: for each q and batch size, the step
    [q − 1 draft passes, verify of q], each a call of the engine's own backend
    (`realrun.backend.RealSpeculation`), so the times hold what the engine books as draft and
    verify time: the forward with its cache inputs, and the host work around it — choosing and
    storing the draft tokens and their confidences per pass; gathering the verified positions,
    deciding acceptance and appending the tokens per verify. For each first-pass width w > 1,
    one more step [a first pass feeding w tokens, verify of 2] per batch size (its verify is not
    kept: the q = 2 steps give that point). Returns samples keyed (role, batch position, index):
    ("verify", b, q index), ("first", b, width index) — the first draft pass of every step, width
    1 from the ordinary steps — and ("later", b, 0), the draft passes after it."""
    capacity = context + max(tokens_per_request) + 1  # + the scratch column (realrun.kv)
    target_kvs = [random_slots(target, batch, capacity, dtype, device) for batch in batches]
    draft_kvs = [random_slots(draft, batch, capacity, dtype, device) for batch in batches]
    vocab = min(target.config.vocab_size, draft.config.vocab_size)
    clock = Clock(torch.device(device))
    runs: list[Callable[[], object]] = []
    roles: list[tuple[str, int, int]] = []
    # index of a step's first run → the step; the caches of a batch size are shared by its steps,
    # so each step is set up (rolled back to its start) right before it runs
    steps: dict[int, _Step] = {}
    # q-major: the plain steps (q = 1) of every batch size come first, back to back, as plain
    # decoding runs them — only steps that draft interleave the two models
    shapes = [(q, 1, ("verify", q_index)) for q_index, q in enumerate(tokens_per_request)]
    shapes += [(2, width, ("skip", 0)) for width in first_pass_tokens[1:]]
    for q, width, verify_role in shapes:
        for b, batch in enumerate(batches):
            drafting = q > 1  # a plain step's backend has no draft model, as for policy `none`
            backend = RealSpeculation(target, draft if drafting else None, target_kvs[b],
                                      draft_kvs[b] if drafting else None, False, None, clock)
            step = _Step(backend, torch.randint(0, vocab, (batch, context + 1)).tolist(), context, q - 1,
                         width - 1)
            steps[len(runs)] = step
            everyone = np.ones(batch, dtype=bool)
            for position in range(q - 1):
                runs.append(lambda backend=backend, position=position, everyone=everyone:
                            backend.draft_pass(everyone, position))
                first = ("first", b, first_pass_tokens.index(width))
                roles.append(first if position == 0 else ("later", b, 0))
            verify_lengths = np.full(batch, q - 1)
            runs.append(lambda backend=backend, lengths=verify_lengths: backend.verify(lengths))
            roles.append((verify_role[0], b, verify_role[1]))

    def reset(index: int) -> None:
        following = (index + 1) % len(runs)  # the runs go round-robin, in this order
        if following in steps:
            steps[following].roll_back()

    steps[0].roll_back()
    times = timer.pass_samples(runs, reset=reset)
    samples: dict[tuple[str, int, int], list[float]] = {}
    for role, sample in zip(roles, times, strict=True):
        if role[0] != "skip":
            samples.setdefault(role, []).extend(sample)
    return samples


@dataclass
class _Step:
    """A speculative step of the engine's backend over requests at the same context, repeatable:
    `roll_back` restores the state before it (the engine's between-steps invariant: the target
    cache holds every token but the last; the draft cache lacks the last one too, and
    `draft_lag` more — the first draft pass feeds them all)."""

    backend: RealSpeculation
    rows: list[list[int]]  # per request: context + 1 tokens
    context: int
    draft_tokens: int
    draft_lag: int = 0

    def roll_back(self) -> None:
        for row in self.rows:
            del row[self.context + 1:]
        backend = self.backend
        backend.target_kv.lengths[:] = self.context
        if backend.draft_kv is not None:
            backend.draft_kv.lengths[:] = self.context - self.draft_lag
        backend.begin(self.rows, self.draft_tokens)


def _groups(batch_sizes, bytes_per_request: int, budget_bytes: int) -> list[list[int]]:
    """Consecutive batch-size indices whose caches fit in the budget together (at least one each)."""
    groups: list[list[int]] = [[]]
    used = 0
    for index, batch in enumerate(batch_sizes):
        need = batch * bytes_per_request
        if groups[-1] and used + need > budget_bytes:
            groups.append([])
            used = 0
        groups[-1].append(index)
        used += need
    return groups


class PrefillWalks:
    """The prefill grids, timed walk by walk as `DecodeWalks` times the decode ones: each point is
    the engine's own prefill calls (`realrun.prefill`) over one batch of prompts into empty slots,
    the target's (with the first tokens chosen) then the draft's, each timed with the host work
    the engine books inside its prefill time."""

    def __init__(self, target, draft, batch_sizes, prompt_tokens, timer: Timer, dtype: torch.dtype,
                 device: str, tick: Callable[[], object] = lambda: None) -> None:
        self.target, self.draft, self.timer, self.dtype, self.device = target, draft, timer, dtype, device
        self.batch_sizes, self.prompt_tokens, self.tick = tuple(batch_sizes), tuple(prompt_tokens), tick
        self.points = [(b, p) for b in range(len(batch_sizes)) for p in range(len(prompt_tokens))]
        # per point, target then draft: one list of samples per walk
        self.samples: list[list[list[float]]] = [[] for _ in range(2 * len(self.points))]
        self.walks = 0

    @torch.inference_mode()
    def walk(self) -> None:
        # the caches live for one walk: a calibration interleaving walks holds one grid's at a time
        slots = max(self.batch_sizes)  # prefilling requests are addressed by slot, as in realrun
        capacity = max(self.prompt_tokens) + 1
        target_kv, draft_kv = (random_slots(model, slots, capacity, self.dtype, self.device)
                               for model in (self.target, self.draft))
        vocab = min(self.target.config.vocab_size, self.draft.config.vocab_size)
        clock = Clock(torch.device(self.device))
        chunks: dict[int, PrefillChunks] = {}  # point → what its target call padded, for its draft call
        runs: list[Callable[[], object]] = []
        for point, (b, p) in enumerate(self.points):
            batch = self.batch_sizes[b]
            feeds = torch.randint(0, vocab, (batch, self.prompt_tokens[p])).tolist()
            every = [True] * batch  # new prompts, each completed: the first tokens are chosen

            def run_target(point=point, feeds=feeds, every=every) -> None:
                chunks[point], _ = prefill_target(self.target, target_kv, list(range(len(feeds))), feeds,
                                                  every, every, False, None, clock)

            runs += [run_target, lambda point=point, every=every:
                     prefill_draft(self.draft, draft_kv, chunks[point], every, clock)]

        # alternate the order of points, never the target → draft order within a point
        points = range(len(self.points)) if self.walks % 2 == 0 else reversed(range(len(self.points)))
        order = [i for point in points for i in (2 * point, 2 * point + 1)]
        samples = self.timer.pass_samples([runs[i] for i in order])
        for index, sample in zip(order, samples, strict=True):
            self.samples[index].append(sample)
            self.tick()
        self.walks += 1

    def times(self) -> tuple[list[list[float]], list[list[float]]]:
        """(target_s[batch][prompt_tokens], draft_s[batch][prompt_tokens])."""
        grids: tuple[list[list[float]], list[list[float]]] = (
            [[0.0] * len(self.prompt_tokens) for _ in self.batch_sizes],
            [[0.0] * len(self.prompt_tokens) for _ in self.batch_sizes])
        for point, (b, p) in enumerate(self.points):
            for which in (0, 1):
                walks = self.samples[2 * point + which]
                grids[which][b][p] = self.timer.median([time for walk in walks for time in walk])
        return grids

    def walk_spread(self) -> float:
        return walk_spread(self.samples)


def measure_prefill(target, draft, batch_sizes, prompt_tokens, timer: Timer, dtype: torch.dtype, device: str,
                    tick: Callable[[], object] = lambda: None) -> tuple[list[list[float]], list[list[float]]]:
    """The prefill grids (`PrefillWalks`), their `timer.passes` walks back to back."""
    walks = PrefillWalks(target, draft, batch_sizes, prompt_tokens, timer, dtype, device, tick)
    for _ in range(timer.passes):
        walks.walk()
    return walks.times()


@torch.inference_mode()
def warm_up(model, device: str, seconds: float) -> None:
    """Run decode forwards, through the slot cache the grids use, for a while before timing
    anything: lazy kernel loading, allocator growth and — on a GPU — clocks ramping up from idle
    would otherwise land in the first points."""
    kv = random_slots(model, 1, 66, next(model.parameters()).dtype, device)
    ids = torch.randint(0, model.config.vocab_size, (1, 1), device=device)
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        kv.lengths[:] = 64
        slot_forward(model, kv, None, ids)
    if device == "cuda":
        torch.cuda.synchronize()
