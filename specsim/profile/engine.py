"""The engine model at run time: a profile's `engine` section made fast to query.

A forward's roofline time is written once, here (`roofline_forward_s`), over four sums that
describe any mix of rows in one forward:

    tokens           new tokens computed (decode rows' 1 + k each, prefill chunks' prompt tokens)
    logit_positions  positions whose logits are kept (every decode token; one per prefill chunk)
    kv_tokens        KV entries read or written: Σ over rows (cached + 2·new)
    attention_pairs  (query, key) pairs: Σ over rows new·(cached + (new + 1)/2)

so a uniform batch (the roofline grids) and a fused step of decode rows and prompt chunks
(the simulator) are priced by the same formula. All four are linear in a row's cached tokens,
which is why a batch's mean context gives the exact sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specsim.profile.schema_engine import Engine, ForwardCoefficients

# What a profile without an `engine` section means (every version-1 profile).
SEPARATE = Engine(name="unstated", composition="separate")


def roofline_forward_s(model: ForwardCoefficients, per_byte: float, per_flop: float, tokens: Any,
                       logit_positions: Any, kv_tokens: Any, attention_pairs: Any,
                       maximum: Callable[[Any, Any], Any] = max) -> Any:
    """One forward against two roofs, the dense part and attention in turn; `per_byte` and
    `per_flop` are the seconds each costs at the achieved bandwidth and compute (`rates`).
    numpy arrays work with `maximum=np.maximum`."""
    dense_flops = tokens * model.flops_per_token + logit_positions * model.head_flops_per_logit
    dense_bytes = model.weight_bytes + logit_positions * model.logit_bytes
    dense = maximum(dense_bytes * per_byte, dense_flops * per_flop)
    attention = maximum(kv_tokens * model.kv_bytes_per_token * per_byte,
                        attention_pairs * model.attention_flops_per_pair * per_flop)
    return dense + attention + model.forward_overhead_s


def rates(memory_bandwidth_bytes_per_s: float, peak_flops_per_s: float, bandwidth_efficiency: float,
          compute_efficiency: float) -> tuple[float, float]:
    """Seconds per byte moved and per FLOP at the achieved fractions of the peaks."""
    return (1.0 / (memory_bandwidth_bytes_per_s * bandwidth_efficiency),
            1.0 / (peak_flops_per_s * compute_efficiency))


@dataclass(frozen=True, slots=True)
class FusedForward:
    """One model's forward in a fused engine: the roofline plus the engine's fixed cost."""

    model: ForwardCoefficients
    per_byte: float
    per_flop: float
    fixed_s: float  # the engine's fixed cost per forward (launches, sampling, input preparation)

    def time_s(self, tokens: float, logit_positions: float, kv_tokens: float,
               attention_pairs: float) -> float:
        return roofline_forward_s(self.model, self.per_byte, self.per_flop, tokens, logit_positions,
                                  kv_tokens, attention_pairs) + self.fixed_s

    def rows_s(self, rows: int, tokens_per_row: float, context_tokens: float) -> float:
        """`rows` decode rows of `tokens_per_row` new tokens each on a mean context, logits everywhere."""
        tokens = rows * tokens_per_row
        return self.time_s(tokens, tokens, rows * (context_tokens + 2.0 * tokens_per_row),
                           tokens * (context_tokens + (tokens_per_row + 1.0) * 0.5))


class EngineModel:
    """What a step costs beyond the grids, and, for a fused engine, the forwards themselves."""

    def __init__(self, engine: Engine | None) -> None:
        engine = engine or SEPARATE
        self.engine = engine
        self.fused = engine.composition == "fused"
        self.target_forward_s = engine.target_forward_s
        self.draft_forward_s = engine.draft_forward_s
        self.request_overhead_s = engine.request_overhead_s
        self.prefix_caching = engine.prefix_caching
        self.kv_block_tokens = engine.kv_block_tokens
        roof = engine.roofline
        self.target: FusedForward | None = None
        self.draft: FusedForward | None = None
        if roof is not None and self.fused:
            per_byte, per_flop = rates(roof.memory_bandwidth_bytes_per_s, roof.peak_flops_per_s,
                                       roof.bandwidth_efficiency, roof.compute_efficiency)
            self.target = FusedForward(roof.target, per_byte, per_flop, engine.target_forward_s)
            self.draft = FusedForward(roof.draft, per_byte, per_flop, engine.draft_forward_s)
