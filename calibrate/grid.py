"""Where latency is measured: the grid axes, and how hard each point is timed.

The draft-step and verify grids share batch sizes and contexts. `quick` grids are coarse (a CPU
calibration of the tiny pair in well under a minute); the default grids cover every draft length
1..K and the batch sizes and contexts a serving engine meets. On a GPU the grid is shrunk, before
anything is measured, until its largest KV cache fits in the device's free memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KEEP_CONTEXT = 1024  # fit_to_memory drops contexts above this before it drops batch sizes


@dataclass(frozen=True)
class Grid:
    batch_sizes: tuple[int, ...]
    context_tokens: tuple[int, ...]
    tokens_per_request: tuple[int, ...]  # verify: k + 1, starting at 1 (plain decoding)
    prefill_batch_sizes: tuple[int, ...]
    prefill_prompt_tokens: tuple[int, ...]
    warmup: int  # untimed calls per point and pass
    repeats: int  # timed calls per point, over all passes
    budget_s: float  # per point, after 3 repeats: bounds the time big points take
    passes: int  # walks over the grid (calibrate.timing: drift on shared machines)
    # tokens a step's first draft pass feeds per request: 1, 2 after a full acceptance, more after
    # steps without drafting (beyond 4 the fit extrapolates)
    first_pass_tokens: tuple[int, ...] = (1, 2, 4)

    def points(self) -> int:
        """Point measurements, passes counted (the progress bar's total)."""
        decode = (len(self.batch_sizes) * len(self.context_tokens)
                  * (len(self.tokens_per_request) + len(self.first_pass_tokens)))
        return self.passes * (decode + 2 * len(self.prefill_batch_sizes) * len(self.prefill_prompt_tokens))


def verify_tokens(max_draft_tokens: int, quick: bool) -> tuple[int, ...]:
    if not quick:
        return tuple(range(1, max_draft_tokens + 2))
    return tuple(sorted({q for q in (1, 2, 3, 5, max_draft_tokens + 1) if q <= max_draft_tokens + 1}))


def default_grid(device: str, quick: bool, max_draft_tokens: int) -> Grid:
    tokens = verify_tokens(max_draft_tokens, quick)
    if device == "cpu":
        if quick:
            # contexts from 16: the CPU scenarios' requests (validate-cpu: 16-96 tokens) stay
            # inside the grid, where queries interpolate, instead of on the fit
            # prompts: 128 too — the line from 64 to 256 priced a 96-token prefill of 4 requests 11-17%
            # high, through 128 2-11% (benchmarks/prefill_points.py, 2026-12-02; between 16 and 64: −3..+12%
            # over six readings, most within ±3%)
            # four walks of three samples, not two of five: a slow spell over one walk moves a
            # point's median less, and the walks' spread says how well the machine reproduces it
            return Grid((1, 2, 4, 8), (16, 64, 256), tokens, (1, 4), (16, 64, 128, 256),
                        warmup=1, repeats=12, budget_s=0.3, passes=4)
        return Grid((1, 2, 4, 8, 16, 32), (32, 128, 512, 1024), tokens, (1, 2, 4, 8),
                    (16, 32, 64, 128, 256, 512, 1024), warmup=2, repeats=30, budget_s=2.0, passes=3)
    if quick:
        return Grid((1, 4, 16, 64), (256, 1024, 4096), tokens, (1, 4), (128, 512, 2048),
                    warmup=3, repeats=15, budget_s=1.0, passes=3)
    return Grid((1, 2, 4, 8, 16, 32, 64, 128), (128, 256, 512, 1024, 2048, 4096), tokens, (1, 2, 4, 8),
                (32, 64, 128, 256, 512, 1024, 2048, 4096), warmup=3, repeats=21, budget_s=1.0, passes=3)


def clip_to_positions(grid: Grid, max_positions: int, max_draft_tokens: int) -> Grid:
    """Drop contexts and prompt lengths the models were not built for (max_position_embeddings)."""
    contexts = tuple(c for c in grid.context_tokens if c + max_draft_tokens + 1 <= max_positions)
    prompts = tuple(p for p in grid.prefill_prompt_tokens if p <= max_positions)
    return replace(grid, context_tokens=contexts or grid.context_tokens[:1],
                   prefill_prompt_tokens=prompts or grid.prefill_prompt_tokens[:1])


def fit_to_memory(grid: Grid, free_bytes: int, kv_bytes_per_token: int) -> Grid:
    """Shrink the grid until its largest caches (largest batch × largest context, target and
    draft together, as a step holds them) take at most 70% of the free memory (the rest:
    activations, logits, allocator slack).
    The grid must stay rectangular: long contexts go first, down to `KEEP_CONTEXT`, then large
    batches — high batch is where speculation policies differ most, and a serving engine at high
    batch cannot hold long contexts anyway. The simulator uses the fit beyond the grid."""
    batches, contexts = list(grid.batch_sizes), list(grid.context_tokens)
    slots = max(grid.tokens_per_request)

    def fits() -> bool:
        return batches[-1] * (contexts[-1] + slots) * kv_bytes_per_token <= 0.7 * free_bytes

    while not fits() and (len(batches) > 1 or len(contexts) > 1):
        if len(contexts) > 1 and (contexts[-2] >= KEEP_CONTEXT or len(batches) == 1):
            contexts.pop()
        else:
            batches.pop()
    prefill = [(b, p) for b in grid.prefill_batch_sizes for p in grid.prefill_prompt_tokens]
    prompts = [p for p in grid.prefill_prompt_tokens
               if max(b for b, _ in prefill) * p * kv_bytes_per_token <= 0.7 * free_bytes]
    return replace(grid, batch_sizes=tuple(batches), context_tokens=tuple(contexts),
                   prefill_prompt_tokens=tuple(prompts or grid.prefill_prompt_tokens[:1]))
