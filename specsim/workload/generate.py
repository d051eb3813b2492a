"""One entry point: a `WorkloadSpec` and a random generator in, the `Requests` of a run out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from specsim.errors import SpecsimError
from specsim.workload.arrivals import generate_arrivals
from specsim.workload.lengths import correlate_with_prompt, resolve, sample_lengths
from specsim.workload.prefixes import prompt_pool
from specsim.workload.requests import Requests
from specsim.workload.spec import TraceReplay, WorkloadSpec
from specsim.workload.traces import load_trace


def generate_requests(spec: WorkloadSpec, rng: np.random.Generator, base_dir: Path) -> Requests:
    """The requests of one run, sorted by arrival; SLO fields are left for the scenario to fill.

    Everything random is drawn from `rng`, in a fixed order (arrivals, categories, prompt
    lengths, output lengths, correlation), so the same generator state gives the same requests.
    `base_dir` resolves relative trace paths: the folder of the scenario file.
    """
    if spec.trace is not None:
        return _replay(spec, spec.trace, rng, Path(base_dir))
    assert spec.arrival is not None and spec.duration_s is not None  # guaranteed by WorkloadSpec
    assert spec.prompt_tokens is not None and spec.output_tokens is not None
    arrival_s = generate_arrivals(spec.arrival, spec.duration_s, rng, spec.rate_scale)
    if spec.max_requests is not None:
        arrival_s = arrival_s[: spec.max_requests]
    count = len(arrival_s)
    names, codes = _draw_categories(spec.categories, count, rng)
    shared = spec.shared_prefix
    pool = None
    if shared is None:
        prompt_tokens = sample_lengths(spec.prompt_tokens, count, rng, base_dir)
    else:
        pooled = sample_lengths(spec.prompt_tokens, shared.groups * shared.prompts_per_group, rng, base_dir)
        pool = prompt_pool(count, shared.groups, shared.prompts_per_group, shared.system_prompt_tokens,
                           pooled, rng)
        prompt_tokens = pool.prompt_tokens
    output_tokens = sample_lengths(spec.output_tokens, count, rng, base_dir)
    if spec.output_tokens.correlation_with_prompt is not None:
        output_tokens = correlate_with_prompt(
            prompt_tokens, output_tokens, spec.output_tokens.correlation_with_prompt, rng
        )
    return Requests(arrival_s=arrival_s, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
                    category=codes, categories=names, prefix=None if pool is None else pool.prefix,
                    prefixes=None if pool is None else pool.tree)


def _draw_categories(
    mix: dict[str, float], count: int, rng: np.random.Generator
) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(mix)
    if len(names) == 1:
        return names, np.zeros(count, dtype=np.int64)
    shares = np.array([mix[name] for name in names], dtype=np.float64)
    codes = rng.choice(len(names), size=count, p=shares / shares.sum())
    return names, codes.astype(np.int64)


def _replay(spec: WorkloadSpec, trace: TraceReplay, rng: np.random.Generator, base_dir: Path) -> Requests:
    """The trace's requests in the window [start_s, end_s) of time_scale × trace time.

    The window's start becomes time 0; times are then divided by rate_scale, and duration_s,
    when given, keeps only arrivals before it.
    """
    path = resolve(trace.path, base_dir)
    frame = load_trace(trace.format, path)
    scaled_s = frame["arrival_s"].to_numpy() * trace.time_scale
    inside = scaled_s >= trace.start_s
    if trace.end_s is not None:
        inside &= scaled_s < trace.end_s
    arrival_s = (scaled_s[inside] - trace.start_s) / spec.rate_scale
    frame = frame[inside]
    if spec.duration_s is not None:
        frame = frame[arrival_s < spec.duration_s]
        arrival_s = arrival_s[arrival_s < spec.duration_s]
    if spec.max_requests is not None:
        frame, arrival_s = frame.iloc[: spec.max_requests], arrival_s[: spec.max_requests]
    if len(frame) == 0:
        end = "end" if trace.end_s is None else f"{trace.end_s:g} s"
        raise SpecsimError(
            f"{path}: no requests in the replay window [{trace.start_s:g} s, {end}) "
            f"of the trace (time_scale {trace.time_scale:g}, duration_s {spec.duration_s})"
        )
    prompt_tokens = _capped(frame["prompt_tokens"], trace.max_prompt_tokens)
    output_tokens = _capped(frame["output_tokens"], trace.max_output_tokens)
    if "category" in frame.columns:
        codes, uniques = pd.factorize(frame["category"])  # names in order of first appearance
        names, category = tuple(str(name) for name in uniques), codes.astype(np.int64)
    else:
        names, category = _draw_categories(spec.categories, len(frame), rng)
    return Requests(arrival_s=np.ascontiguousarray(arrival_s, dtype=np.float64), prompt_tokens=prompt_tokens,
                    output_tokens=output_tokens, category=category, categories=names)


def _capped(column: pd.Series, cap_tokens: int | None) -> np.ndarray:
    values = column.to_numpy(dtype=np.int64)
    return values if cap_tokens is None else np.minimum(values, cap_tokens)
