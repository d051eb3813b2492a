"""Prompt and output lengths in tokens: one draw per request, clamped, optionally rank-correlated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import ndtri

from specsim.workload.spec import (
    EmpiricalLength,
    FixedLength,
    LengthSpec,
    LognormalLength,
    UniformLength,
    ZipfLength,
)
from specsim.workload.traces import load_trace

# Heavy tails (zipf near exponent 1) draw absurd values; cap before the int cast so it cannot
# overflow when the user set no `max`.
_CEILING_TOKENS = 2**31 - 1


def resolve(path: Path, base_dir: Path) -> Path:
    """A trace path as written in a scenario, relative to the scenario file's folder."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def sample_lengths(spec: LengthSpec, count: int, rng: np.random.Generator, base_dir: Path) -> np.ndarray:
    """`count` int64 lengths in tokens drawn from `spec`, clamped to [spec.min, spec.max]."""
    # the output-length classes subclass these, so isinstance covers both
    if isinstance(spec, FixedLength):
        draws = np.full(count, float(spec.value))
    elif isinstance(spec, UniformLength):
        draws = rng.integers(spec.low, spec.high + 1, size=count).astype(np.float64)
    elif isinstance(spec, LognormalLength):
        draws = np.rint(spec.median * np.exp(spec.sigma * rng.standard_normal(count)))
    elif isinstance(spec, ZipfLength):
        draws = np.rint(spec.scale * rng.zipf(spec.exponent, size=count).astype(np.float64))
    elif isinstance(spec, EmpiricalLength):
        values = load_trace(spec.trace.format, resolve(spec.trace.path, base_dir))[spec.column].to_numpy()
        draws = rng.choice(values, size=count).astype(np.float64)
    else:
        raise TypeError(f"unknown length spec {type(spec).__name__}")
    upper = _CEILING_TOKENS if spec.max is None else spec.max
    return np.clip(draws, spec.min, upper).astype(np.int64)


def correlate_with_prompt(
    prompt_tokens: np.ndarray, output_tokens: np.ndarray, spearman: float, rng: np.random.Generator
) -> np.ndarray:
    """`output_tokens` reordered so its ranks follow the prompt's through a Gaussian copula.

    The marginal distribution of output lengths is untouched (same values, new order). `spearman`
    is the rank correlation aimed for; a Gaussian copula with Pearson ρ has Spearman
    (6/π)·asin(ρ/2), inverted here. Ties (in prompt lengths, or discrete outputs) pull the
    measured rank correlation towards 0.
    """
    count = len(prompt_tokens)
    if count < 2:
        return output_tokens.copy()
    rho = 2.0 * np.sin(np.pi * spearman / 6.0)
    # ranks of the prompt lengths, ties broken at random so equal prompts are not ordered by index;
    # lengths are integers, so a jitter in [0, 1) never swaps two different lengths
    order = np.argsort(prompt_tokens + rng.random(count))
    ranks = np.empty(count, dtype=np.float64)
    ranks[order] = np.arange(count)
    prompt_scores = ndtri((ranks + 0.5) / count)
    latent = rho * prompt_scores + np.sqrt(1.0 - rho**2) * rng.standard_normal(count)
    reordered = np.empty_like(output_tokens)
    reordered[np.argsort(latent)] = np.sort(output_tokens)  # latent is continuous: no ties
    return reordered
