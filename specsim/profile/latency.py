"""Step-time queries on a Profile: interpolate the measured grid, extrapolate with the fit.

The simulator asks for thousands of step times per wall second, so the grids are expanded once
into dense Python lists over every integer batch size (and every integer tokens-per-request)
they cover; a query is then a bisect on the context axis and a blend of two list entries.

Outside the grid the fitted model takes over, anchored at the grid's edge:
t(x) = grid(edge) + fit(x) − fit(edge). This keeps the curve continuous where the grid ends
(a raw fit can disagree with the edge by its fit error) and follows the fit's slope beyond it.
Every such query is counted (`extrapolated_queries`) so a run can say how much of its time
came from outside what was measured.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from specsim.profile.schema import FIT_FEATURES, DraftStepGrid, Latency, LatencyFit, PrefillGrid, VerifyGrid


class _Grid:
    """A latency grid over (batch, tokens per request, context), densified along the integer
    batch axis; tokens and context are interpolated at query time. Two-axis grids use
    tokens-per-request ≡ 1 (draft step) or context ≡ tokens (prefill)."""

    def __init__(self, batch_sizes: list[int], tokens: list[int], context: list[int],
                 time_s: np.ndarray, fit: LatencyFit, context_is_tokens: bool = False) -> None:
        self.fit = fit
        self.context_is_tokens = context_is_tokens
        self.min_batch, self.max_batch = batch_sizes[0], batch_sizes[-1]
        self.tokens = [float(t) for t in tokens]
        self.context = [float(c) for c in context]
        dense_batch = np.arange(self.min_batch, self.max_batch + 1)
        dense = np.empty((len(dense_batch), len(tokens), len(context)))
        for t in range(len(tokens)):
            for c in range(len(context)):
                dense[:, t, c] = np.interp(dense_batch, batch_sizes, time_s[:, t, c])
        self.table: list[list[list[float]]] = dense.tolist()
        self._tokens_low, self._tokens_high = self.tokens[0], self.tokens[-1]
        self._context_low, self._context_high = self.context[0], self.context[-1]
        self._context_last = len(self.context) - 1
        self.queries = 0
        self.extrapolated_queries = 0
        # the fit's coefficient per feature (0 where unused), for scalar queries off the grid
        weights = dict(zip(fit.features, fit.coefficients, strict=True))
        self._fit_weights = tuple(float(weights.get(name, 0.0)) for name in FIT_FEATURES)

    def __call__(self, batch: int, tokens: float, context: float) -> tuple[float, bool]:
        """(time_s, extrapolated)."""
        self.queries -= 1  # time_s counts the query again
        extrapolated = self.extrapolated_queries
        time_s = self.time_s(batch, tokens, context)
        return time_s, self.extrapolated_queries != extrapolated

    def time_s(self, batch: int, tokens: float, context: float) -> float:
        """The hot path: interpolate inside the grid, counting the query (and extrapolations)."""
        self.queries += 1
        if batch < self.min_batch or batch > self.max_batch or tokens < self._tokens_low \
                or tokens > self._tokens_high or context < self._context_low or context > self._context_high:
            self.extrapolated_queries += 1
            return self._extrapolate(batch, tokens, context)
        plane = self.table[batch - self.min_batch]
        if tokens == self._tokens_low:  # one token per request (a draft step, plain decoding)
            row = plane[0]
        else:
            t_index, t_weight = _locate(self.tokens, tokens)
            if t_weight != 0.0:
                return self._inside(batch, tokens, context)
            row = plane[t_index]
        axis = self.context
        c_index = bisect_right(axis, context) - 1
        if c_index >= self._context_last:
            return row[self._context_last]
        left = axis[c_index]
        if context == left:
            return row[c_index]
        value = row[c_index]
        return value + (row[c_index + 1] - value) * ((context - left) / (axis[c_index + 1] - left))

    def _inside(self, batch: int, tokens: float, context: float) -> float:
        plane = self.table[batch - self.min_batch]
        t_index, t_weight = _locate(self.tokens, tokens)
        c_index, c_weight = _locate(self.context, context)
        value = _blend(plane[t_index], c_index, c_weight)
        if t_weight == 0.0:
            return value
        return value + (_blend(plane[t_index + 1], c_index, c_weight) - value) * t_weight

    def _extrapolate(self, batch: int, tokens: float, context: float) -> float:
        edge_batch = min(max(batch, self.min_batch), self.max_batch)
        edge_tokens = min(max(tokens, self.tokens[0]), self.tokens[-1])
        edge_context = min(max(context, self.context[0]), self.context[-1])
        edge_time = self._inside(edge_batch, edge_tokens, edge_context)
        if self.context_is_tokens:
            context, edge_context = tokens, edge_tokens
        return max(edge_time + (self._fit_at(batch, tokens, context)
                                - self._fit_at(edge_batch, edge_tokens, edge_context)), 0.0)

    def _fit_at(self, batch: float, tokens_per_request: float, context: float) -> float:
        """`fit.predict` for one query in plain floats: off the grid is a hot path too (tree
        draft passes, a batch past the grid's largest)."""
        constant, per_batch, per_token, per_batch_context, per_token_context = self._fit_weights
        tokens = batch * tokens_per_request
        return (constant + per_batch * batch + per_token * tokens + per_batch_context * batch * context
                + per_token_context * tokens * context)


def _blend(row: list[float], index: int, weight: float) -> float:
    if weight == 0.0:
        return row[index]
    return row[index] + (row[index + 1] - row[index]) * weight


def _locate(axis: list[float], value: float) -> tuple[int, float]:
    """Index of the grid cell holding `value` and the weight of its upper neighbour."""
    index = bisect_right(axis, value) - 1
    if index >= len(axis) - 1:
        return len(axis) - 1, 0.0
    left = axis[index]
    if value == left:
        return index, 0.0
    return index, (value - left) / (axis[index + 1] - left)


def _draft_grid(grid: DraftStepGrid) -> _Grid:
    times = np.asarray(grid.time_s, dtype=np.float64)[:, None, :]
    return _Grid(grid.batch_sizes, [1], grid.context_tokens, times, grid.fit)


def _verify_grid(grid: VerifyGrid) -> _Grid:
    return _Grid(grid.batch_sizes, grid.tokens_per_request, grid.context_tokens,
                 np.asarray(grid.time_s, dtype=np.float64), grid.fit)


def _prefill_grid(grid: PrefillGrid) -> _Grid:
    # prefill's second axis is "tokens per request"; context = the prompt itself
    times = np.asarray(grid.time_s, dtype=np.float64)[:, :, None]
    return _Grid(grid.batch_sizes, grid.prompt_tokens, [1], times, grid.fit, context_is_tokens=True)


class LatencyModel:
    """Predicted forward times for a batch composition, from a profile's latency section."""

    def __init__(self, latency: Latency) -> None:
        self.step_overhead_s = latency.step_overhead_s
        plain = latency.plain_step_overhead_s
        self.plain_step_overhead_s = latency.step_overhead_s if plain is None else plain
        prefill_only = latency.prefill_step_overhead_s
        self.prefill_step_overhead_s = self.plain_step_overhead_s if prefill_only is None else prefill_only
        self.idle_wake_factor = latency.idle_wake_factor
        self.idle_wake_s = latency.idle_wake_s
        self.step_time_spread = np.asarray(latency.step_time_spread, dtype=np.float64)
        self.step_time_persistence = latency.step_time_persistence
        self.policy_step_overhead_s = dict(latency.policy_step_overhead_s)
        self._draft = _draft_grid(latency.draft_step)
        self._verify = _verify_grid(latency.verify)
        self._prefill_target = _prefill_grid(latency.prefill_target)
        self._prefill_draft = _prefill_grid(latency.prefill_draft)
        first = latency.draft_first_pass
        self._first_pass = None if first is None else _verify_grid(first)
        self.has_first_pass = first is not None
        self._grids = tuple(grid for grid in (self._draft, self._verify, self._prefill_target,
                                              self._prefill_draft, self._first_pass) if grid is not None)
        # bound methods: one attribute look-up less per query in the simulator's hot loop
        self._draft_time_s = self._draft.time_s
        self._verify_time_s = self._verify.time_s

    @property
    def queries(self) -> int:
        return sum(grid.queries for grid in self._grids)

    @property
    def extrapolated_queries(self) -> int:
        return sum(grid.extrapolated_queries for grid in self._grids)

    def draft_step_s(self, batch: int, context_tokens: float) -> float:
        """One draft forward: one token for each of `batch` requests."""
        return self._draft_time_s(batch, 1, context_tokens)

    def draft_first_pass_s(self, batch: int, tokens_per_request: float, context_tokens: float) -> float:
        """A step's first draft forward, feeding `tokens_per_request` tokens per request (what each
        draft cache lacks; the widest sets the forward's width). Without a measured first-pass
        grid: a draft step, whatever the width."""
        if self._first_pass is None:
            return self._draft_time_s(batch, 1, context_tokens)
        return self._first_pass.time_s(batch, tokens_per_request, context_tokens)

    def verify_s(self, batch: int, tokens_per_request: float, context_tokens: float) -> float:
        """One target forward of `tokens_per_request` (k+1, may be a mean) tokens per request."""
        return self._verify_time_s(batch, tokens_per_request, context_tokens)

    def prefill_s(self, sequences: int, tokens_per_sequence: float, with_draft: bool) -> float:
        """Prefill of `sequences` chunks of `tokens_per_sequence` tokens by the target, and by the
        draft too when speculation is in use."""
        if sequences <= 0:
            return 0.0
        # prefill grids are queried as (batch, tokens, context=1): context is not an axis there,
        # so only batch and tokens decide whether the fit is used
        time_s = self._prefill_target.time_s(sequences, tokens_per_sequence, 1)
        if with_draft:
            time_s += self._prefill_draft.time_s(sequences, tokens_per_sequence, 1)
        return time_s
