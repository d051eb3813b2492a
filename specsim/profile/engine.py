"""The engine model at run time: a profile's `engine` section made fast to query.

A forward's roofline time is written once, here (`FusedForward.time_s`), over four sums that
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

from bisect import bisect_left

from specsim.profile.schema_engine import Engine, ForwardCoefficients

# What a profile without an `engine` section means (every version-1 profile).
SEPARATE = Engine(name="unstated", composition="separate")


class FusedForward:
    """One model's forward against two roofs, the dense part and attention in turn, plus a fixed
    cost; the simulator's hot loop calls it for every fused step, so its constants are folded into
    plain floats once."""

    __slots__ = ("allreduce_s", "attention_flops_s", "fixed_s", "graph_sizes", "head_s", "kv_s",
                 "largest_graph", "logit_s", "token_s", "weights_s")

    def __init__(self, model: ForwardCoefficients, memory_bandwidth_bytes_per_s: float,
                 peak_flops_per_s: float, bandwidth_efficiency: float, compute_efficiency: float,
                 fixed_s: float = 0.0, graph_sizes: list[int] | None = None) -> None:
        per_byte = 1.0 / (memory_bandwidth_bytes_per_s * bandwidth_efficiency)
        per_flop = 1.0 / (peak_flops_per_s * compute_efficiency)
        self.weights_s = model.weight_bytes * per_byte  # streamed once per forward
        self.logit_s = model.logit_bytes * per_byte  # per logit position, written
        self.token_s = model.flops_per_token * per_flop
        self.head_s = model.head_flops_per_logit * per_flop
        self.kv_s = model.kv_bytes_per_token * per_byte
        self.attention_flops_s = model.attention_flops_per_pair * per_flop
        # the roofline's launch cost + the engine's fixed cost per forward
        self.fixed_s = model.forward_overhead_s + fixed_s
        self.allreduce_s = model.allreduce_s_per_token  # tensor parallelism's transfers, per token
        # captured CUDA graphs: a forward of up to the largest size pads to the next one
        self.graph_sizes = list(graph_sizes or ())
        self.largest_graph = self.graph_sizes[-1] if self.graph_sizes else -1

    def time_s(self, tokens: float, logit_positions: float, kv_tokens: float,
               attention_pairs: float) -> float:
        if 0 < tokens <= self.largest_graph:
            # the graph's padding rows run the dense part (and keep logits) like real ones; their
            # attention reads nothing
            padding = self.graph_sizes[bisect_left(self.graph_sizes, tokens)] - tokens
            tokens += padding
            logit_positions += padding
        dense_memory = self.weights_s + logit_positions * self.logit_s
        dense_compute = tokens * self.token_s + logit_positions * self.head_s
        attention_memory = kv_tokens * self.kv_s
        attention_compute = attention_pairs * self.attention_flops_s
        return ((dense_memory if dense_memory > dense_compute else dense_compute)
                + (attention_memory if attention_memory > attention_compute else attention_compute)
                + self.fixed_s + tokens * self.allreduce_s)

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
            peaks = (roof.memory_bandwidth_bytes_per_s, roof.peak_flops_per_s, roof.bandwidth_efficiency,
                     roof.compute_efficiency)
            self.target = FusedForward(roof.target, *peaks, fixed_s=engine.target_forward_s,
                                       graph_sizes=engine.cuda_graph_sizes)
            self.draft = FusedForward(roof.draft, *peaks, fixed_s=engine.draft_forward_s,
                                      graph_sizes=engine.cuda_graph_sizes)
        # captured CUDA-graph sizes a fused forward pads to: step time is a staircase in k
        self.graph_sizes: list[int] = list(engine.cuda_graph_sizes or []) if self.fused else []
        self.staircase = bool(self.graph_sizes)
