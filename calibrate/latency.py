"""Measure the three forwards an engine runs: prefill, one draft step, one verify pass.

Every decode-phase forward runs against a KV cache of `context` tokens per request (filled with
random keys/values: latency does not depend on them) with the inputs an engine passes: new
tokens, a 2-D attention mask covering cache + new tokens, explicit position ids. The mask has one
masked slot per row — a batched engine always has some (padding, or rolled-back draft slots), and
an all-ones mask would let transformers skip building the mask, a cost the engine does pay.
After each timed forward the cache is cropped back, outside the timed region.

Grids are stored as measured. CPU matrix products have real jumps between shapes (ENGINE-NOTES):
nothing is smoothed or forced monotone here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from calibrate.kv import head_dim, kv_heads, new_cache, random_cache
from calibrate.timing import Timer


def decode_inputs(batch: int, new_tokens: int, context: int, vocab: int, device: str):
    ids = torch.randint(0, vocab, (batch, new_tokens), device=device)
    mask = torch.ones(batch, context + new_tokens, dtype=torch.long, device=device)
    if context > 1:
        mask[:, 0] = 0  # the hole a batched engine always has somewhere
    positions = torch.arange(context, context + new_tokens, device=device).expand(batch, new_tokens)
    return ids, mask, positions


@torch.inference_mode()
def measure_decode(model, batch_sizes, tokens_per_request, context_tokens, timer: Timer, dtype: torch.dtype,
                   device: str, tick: Callable[[], object] = lambda: None,
                   interleave_bytes: int = 512 * 2**20) -> list[list[list[float]]]:
    """time_s[batch][tokens_per_request][context]: one forward of q new tokens per request.

    For each context, as many batch sizes as have caches fitting in `interleave_bytes` together
    are timed round-robin with every q; the grid is walked `timer.passes` times, in alternating
    order, and each point keeps the median of all its samples (see `calibrate.timing`)."""
    vocab = model.config.vocab_size
    per_token = kv_bytes_per_token(model.config, dtype)
    slots = max(tokens_per_request)
    blocks = [(c, group) for c, context in enumerate(context_tokens)
              for group in _groups(batch_sizes, (context + slots) * per_token, interleave_bytes)]
    samples: dict[tuple[int, int, int], list[float]] = {}
    for walk in range(timer.passes):
        for c, group in blocks if walk % 2 == 0 else reversed(blocks):
            batches = [batch_sizes[b] for b in group]
            times = _pass_samples(model, batches, tokens_per_request, context_tokens[c], timer, dtype, device,
                                  vocab)
            points = [(b, q) for b in group for q in range(len(tokens_per_request))]
            for (b, q), sample in zip(points, times, strict=True):
                samples.setdefault((b, q, c), []).extend(sample)
                tick()
    return [[[timer.median(samples[b, q, c]) for c in range(len(context_tokens))]
             for q in range(len(tokens_per_request))] for b in range(len(batch_sizes))]


def _pass_samples(model, batches, tokens_per_request, context, timer, dtype, device, vocab
                  ) -> list[list[float]]:
    """One pass over every (batch, q) of a block, round-robin, batch-major."""
    caches = [random_cache(model, batch, context, dtype, device) for batch in batches]
    points = [(b, q) for b in range(len(batches)) for q in tokens_per_request]
    inputs = [decode_inputs(batches[b], q, context, vocab, device) for b, q in points]

    def run(index: int) -> None:
        ids, mask, positions = inputs[index]
        model(input_ids=ids, attention_mask=mask, position_ids=positions,
              past_key_values=caches[points[index][0]], use_cache=True)

    def reset(index: int) -> None:
        b, q = points[index]
        caches[b].crop(-q)

    return timer.pass_samples([lambda i=i: run(i) for i in range(len(points))], reset=reset)


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


def kv_bytes_per_token(config, dtype: torch.dtype) -> int:
    element = torch.tensor([], dtype=dtype).element_size()
    return 2 * config.num_hidden_layers * kv_heads(config) * head_dim(config) * element


@torch.inference_mode()
def measure_prefill(model, batch_sizes, prompt_tokens, timer: Timer, device: str,
                    tick: Callable[[], object] = lambda: None) -> list[list[float]]:
    """time_s[batch][prompt_tokens]: one forward over the prompts, into an empty cache; only the
    last position's logits are computed, as an engine needs."""
    vocab = model.config.vocab_size
    grid = [[0.0] * len(prompt_tokens) for _ in batch_sizes]
    points = [(b, p) for b in range(len(batch_sizes)) for p in range(len(prompt_tokens))]
    inputs = [torch.randint(0, vocab, (batch_sizes[b], prompt_tokens[p]), device=device) for b, p in points]

    def run(ids):
        return model(input_ids=ids, attention_mask=torch.ones_like(ids), past_key_values=new_cache(model),
                     use_cache=True, logits_to_keep=1)

    # all points round-robin: each forward allocates its own cache, so they can share the time window
    runs = [lambda ids=ids: run(ids) for ids in inputs]
    pooled: list[list[float]] = [[] for _ in points]
    for walk in range(timer.passes):
        order = range(len(runs)) if walk % 2 == 0 else range(len(runs) - 1, -1, -1)
        for index, sample in zip(order, timer.pass_samples([runs[i] for i in order]), strict=True):
            pooled[index].extend(sample)
            tick()
    for (b, p), sample in zip(points, pooled, strict=True):
        grid[b][p] = timer.median(sample)
    return grid


@torch.inference_mode()
def warm_up(model, device: str, seconds: float) -> None:
    """Run decode forwards for a while before timing anything: lazy kernel loading, allocator
    growth and — on a GPU — clocks ramping up from idle would otherwise land in the first points."""
    cache = random_cache(model, 1, 64, next(model.parameters()).dtype, device)
    ids, mask, positions = decode_inputs(1, 1, 64, model.config.vocab_size, device)
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
              use_cache=True)
        cache.crop(-1)
    if device == "cuda":
        torch.cuda.synchronize()


@torch.inference_mode()
def measure_step_overhead(batch: int, draft_tokens: int, vocab: int, context: int, timer: Timer,
                          device: str) -> float:
    """The tensor work of one engine step outside the forwards: the draft's softmax/argmax and
    confidence per drafted token, the target's argmax, the accepted-prefix count, the accepted
    counts back to the host, the next inputs, the grown mask and positions. Python scheduling of
    a particular engine is not included."""
    draft_logits = torch.randn(draft_tokens, batch, vocab, device=device)
    target_logits = torch.randn(batch, draft_tokens + 1, vocab, device=device)
    mask = torch.ones(batch, context, dtype=torch.long, device=device)
    positions = torch.full((batch,), context, device=device)

    def step():
        drafted, confidences = [], []
        for logits in draft_logits:
            probabilities = torch.softmax(logits.float(), dim=-1)
            confidence, token = probabilities.max(dim=-1)
            drafted.append(token)
            confidences.append(confidence)
        drafted_ids = torch.stack(drafted, dim=1)
        confidences_host = torch.stack(confidences, dim=1).tolist()  # policies read them on the host
        choice = target_logits.argmax(dim=-1)
        accepted = torch.cumprod((choice[:, :-1] == drafted_ids).int(), dim=1).sum(dim=1)
        following = choice.gather(1, accepted[:, None])
        next_mask = torch.cat([mask, torch.ones(batch, draft_tokens + 1, dtype=mask.dtype, device=device)], 1)
        next_positions = positions + accepted + 1
        return accepted.tolist(), following, next_mask, next_positions, confidences_host

    return timer.medians([step])[0]
