"""Arrival times in [0, duration_s), one function per arrival process, all vectorised.

Poisson-type processes are built from segments of constant rate: given its count, a Poisson
process on a segment places its points uniformly, so a whole schedule is one Poisson draw per
segment and one uniform draw per request. Renewal and Markov-modulated processes loop per chunk of
gaps or dwells, never per request.
"""

from __future__ import annotations

import math

import numpy as np

from specsim.errors import SpecsimError
from specsim.workload.spec import (
    ArrivalSpec,
    GammaArrival,
    MmppArrival,
    OscillatingArrival,
    PiecewiseArrival,
    PoissonArrival,
)

# Beyond this a scenario is almost certainly a typo (a rate in req/min, a duration in ms), and
# the arrays alone would take gigabytes.
MAX_EXPECTED_REQUESTS = 50_000_000
_MAX_SEGMENTS = 10_000_000


def generate_arrivals(
    spec: ArrivalSpec, duration_s: float, rng: np.random.Generator, rate_scale: float = 1.0
) -> np.ndarray:
    """Sorted float64 arrival times in [0, duration_s) for `spec`, every rate × rate_scale.

    rate_scale changes how many requests come, not the shape of the traffic over time: MMPP
    dwells, oscillation periods and piecewise step times are left as written.
    """
    if isinstance(spec, PoissonArrival):
        return poisson_arrivals(spec.rate * rate_scale, duration_s, rng)
    if isinstance(spec, GammaArrival):
        return gamma_arrivals(spec.rate * rate_scale, spec.cv, duration_s, rng)
    if isinstance(spec, MmppArrival):
        rates = np.array([state.rate for state in spec.states]) * rate_scale
        dwells_s = np.array([state.mean_dwell_s for state in spec.states])
        return mmpp_arrivals(rates, dwells_s, spec.start_state, duration_s, rng)
    if isinstance(spec, OscillatingArrival):
        return oscillating_arrivals(spec.low_rate * rate_scale, spec.high_rate * rate_scale,
                                    spec.period_s, spec.shape, duration_s, rng)
    if isinstance(spec, PiecewiseArrival):
        return piecewise_arrivals(np.array(spec.times_s), np.array(spec.rates) * rate_scale,
                                  spec.cycle_s(), duration_s, rng)
    raise TypeError(f"unknown arrival spec {type(spec).__name__}")


def _check_volume(expected_requests: float) -> None:
    if expected_requests > MAX_EXPECTED_REQUESTS:
        raise SpecsimError(
            f"workload: about {expected_requests:.3g} requests expected (peak rate × duration_s), "
            f"more than {MAX_EXPECTED_REQUESTS:.0e}; lower duration_s or the rate"
        )


def poisson_on_segments(
    starts_s: np.ndarray, lengths_s: np.ndarray, rates: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Sorted arrivals of a Poisson process whose rate is rates[i] on [starts_s[i], +lengths_s[i])."""
    counts = rng.poisson(rates * lengths_s)
    segment = np.repeat(np.arange(len(starts_s)), counts)
    times_s = starts_s[segment] + rng.random(segment.size) * lengths_s[segment]
    return np.sort(times_s)


def _before(times_s: np.ndarray, duration_s: float) -> np.ndarray:
    # start + u·length can round up to the segment's end; the window is half-open
    return times_s[times_s < duration_s]


def poisson_arrivals(rate: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    _check_volume(rate * duration_s)
    one = np.ones(1)
    return _before(poisson_on_segments(np.zeros(1), one * duration_s, one * rate, rng), duration_s)


def gamma_arrivals(rate: float, cv: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """A renewal process started at 0 (the first arrival comes one gap in), gamma(1/cv², ·) gaps."""
    expected = rate * duration_s
    _check_volume(expected)
    shape = 1.0 / cv**2
    scale_s = 1.0 / (rate * shape)
    # one chunk covers the window with high probability; the loop only tops up the rare shortfall
    chunk = int(expected + 6.0 * max(cv, 1.0) * math.sqrt(expected) + 16)
    parts: list[np.ndarray] = []
    now_s = 0.0
    while now_s < duration_s:
        times_s = now_s + np.cumsum(rng.gamma(shape, scale_s, size=chunk))
        parts.append(times_s)
        now_s = float(times_s[-1])
    return _before(np.concatenate(parts), duration_s)


def mmpp_arrivals(
    rates: np.ndarray, mean_dwells_s: np.ndarray, start_state: int, duration_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Markov-modulated Poisson: exponential dwells; each jump goes uniformly to another state."""
    _check_volume(float(rates.max()) * duration_s)
    n_states = len(rates)
    # the jump chain visits states uniformly, so a dwell lasts mean(mean_dwells_s) on average
    expected_dwells = duration_s / float(mean_dwells_s.mean())
    if expected_dwells > _MAX_SEGMENTS:
        raise SpecsimError("workload: arrival.states: dwells too short for duration_s (over 1e7 dwells)")
    chunk = int(1.2 * expected_dwells) + 16
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    visited: list[np.ndarray] = []
    state, now_s = start_state, 0.0
    while now_s < duration_s:
        # an offset in 1..n-1 modulo n lands uniformly on one of the other states
        offsets = rng.integers(1, n_states, size=chunk)
        sequence = (state + np.concatenate(([0], np.cumsum(offsets[:-1])))) % n_states
        ends_s = now_s + np.cumsum(rng.exponential(mean_dwells_s[sequence]))
        starts.append(np.concatenate(([now_s], ends_s[:-1])))
        ends.append(ends_s)
        visited.append(sequence)
        state, now_s = int((sequence[-1] + offsets[-1]) % n_states), float(ends_s[-1])
    starts_s, ends_s, states = np.concatenate(starts), np.concatenate(ends), np.concatenate(visited)
    inside = starts_s < duration_s
    starts_s, states = starts_s[inside], states[inside]
    lengths_s = np.minimum(ends_s[inside], duration_s) - starts_s
    return _before(poisson_on_segments(starts_s, lengths_s, rates[states], rng), duration_s)


def oscillating_rate(low_rate: float, high_rate: float, period_s: float, shape: str,
                     times_s: np.ndarray) -> np.ndarray:
    """The rate at `times_s`: low at the start of each period, high at its middle."""
    phase = np.mod(times_s, period_s) / period_s
    if shape == "square":
        return np.where(phase < 0.5, low_rate, high_rate)
    return low_rate + (high_rate - low_rate) * (1.0 - np.cos(2.0 * np.pi * phase)) / 2.0


def oscillating_arrivals(
    low_rate: float, high_rate: float, period_s: float, shape: str, duration_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Non-homogeneous Poisson by thinning: candidates at the peak rate, kept with p = rate(t)/peak."""
    peak = max(low_rate, high_rate)
    candidates_s = poisson_arrivals(peak, duration_s, rng)
    rate = oscillating_rate(low_rate, high_rate, period_s, shape, candidates_s)
    return candidates_s[rng.random(candidates_s.size) * peak < rate]


def piecewise_arrivals(
    times_s: np.ndarray, rates: np.ndarray, cycle_s: float | None, duration_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Poisson with rate rates[i] from times_s[i]; looped every cycle_s when that is given."""
    _check_volume(float(rates.max()) * duration_s)
    if cycle_s is None:
        starts_s = times_s
        ends_s = np.append(times_s[1:], duration_s)
        segment_rates = rates
    else:
        cycles = math.ceil(duration_s / cycle_s)
        if cycles * len(times_s) > _MAX_SEGMENTS:
            raise SpecsimError("workload: arrival.period_s: too short for duration_s (over 1e7 steps)")
        offsets_s = np.arange(cycles)[:, None] * cycle_s
        starts_s = (offsets_s + times_s[None, :]).ravel()
        ends_s = (offsets_s + np.append(times_s[1:], cycle_s)[None, :]).ravel()
        segment_rates = np.tile(rates, cycles)
    inside = starts_s < duration_s
    starts_s = starts_s[inside]
    lengths_s = np.minimum(ends_s[inside], duration_s) - starts_s
    return _before(poisson_on_segments(starts_s, lengths_s, segment_rates[inside], rng), duration_s)
