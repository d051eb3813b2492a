"""Fit latency grids with a linear model in batch tokens and context, as the speculative-serving
literature models step time (SmartSpec regresses on batch size, batched tokens and KV tokens).

The fit is what the simulator uses *outside* the measured grid, so it must never predict that
more work is cheaper: coefficients are non-negative (NNLS). Rows are weighted by 1/time so the
fit minimises relative error — a 1 ms step and a 100 ms step matter alike.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from specsim.profile.schema import FIT_FEATURES, LatencyFit


def design_matrix(features: list[str], batch: np.ndarray, tokens_per_request: np.ndarray,
                  context: np.ndarray) -> np.ndarray:
    """Columns of the fit for queries (B, q, c); see `schema.FIT_FEATURES`."""
    batch = np.asarray(batch, dtype=np.float64)
    tokens = batch * np.asarray(tokens_per_request, dtype=np.float64)
    context = np.asarray(context, dtype=np.float64)
    columns = {
        "constant": np.ones_like(batch),
        "batch": batch,
        "tokens": tokens,
        "batch_x_context": batch * context,
        "tokens_x_context": tokens * context,
    }
    return np.stack([columns[name] for name in features], axis=-1)


def predict(fit: LatencyFit, batch: np.ndarray | float, tokens_per_request: np.ndarray | float,
            context: np.ndarray | float) -> np.ndarray:
    x = design_matrix(fit.features, np.atleast_1d(batch), np.atleast_1d(tokens_per_request),
                      np.atleast_1d(context))
    return x @ np.asarray(fit.coefficients)


def fit_latency(batch: np.ndarray, tokens_per_request: np.ndarray, context: np.ndarray,
                time_s: np.ndarray, features: list[str] | None = None,
                holdout_every: int = 4) -> LatencyFit:
    """Fit on all points; report the error on every `holdout_every`-th point of a fit made
    without them (the error a user should expect between grid points)."""
    features = list(features or FIT_FEATURES)
    batch, tokens_per_request, context, time_s = (
        np.asarray(a, dtype=np.float64).ravel() for a in (batch, tokens_per_request, context, time_s)
    )
    if np.any(~np.isfinite(time_s)) or np.any(time_s <= 0):
        raise ValueError("latency fit needs positive, finite times")
    x = design_matrix(features, batch, tokens_per_request, context)
    held_out = np.zeros(len(time_s), dtype=bool)
    if len(time_s) >= 2 * len(features) and holdout_every > 1:
        held_out[holdout_every - 1 :: holdout_every] = True
    if held_out.any():
        partial = _solve(x[~held_out], time_s[~held_out])
        errors = np.abs(x[held_out] @ partial - time_s[held_out]) / time_s[held_out]
    else:
        errors = np.abs(x @ _solve(x, time_s) - time_s) / time_s
    coefficients = _solve(x, time_s)
    return LatencyFit(
        features=features,
        coefficients=[float(c) for c in coefficients],
        holdout_rel_error_median=float(np.median(errors)),
        holdout_rel_error_max=float(np.max(errors)),
    )


def _solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    weighted = x / y[:, None]
    scale = np.linalg.norm(weighted, axis=0)
    scale[scale == 0] = 1.0
    solution, _ = nnls(weighted / scale, np.ones_like(y))
    return solution / scale
