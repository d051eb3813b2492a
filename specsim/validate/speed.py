"""How fast the machine really ran compared with the profile, from a real run and the simulator's
replay of it.

A shared machine's speed drifts (on the project's 2-core VM the same forward took 8 ms at one
moment and 14 ms twenty minutes later), and a profile is one moment of it. To tell that apart
from a wrong model, validate reruns the simulator with the real run's acceptance replayed *and*
its forwards scaled by the ratios measured here; what error is left there comes from the rest of
the model — step composition, batching, admission, overheads, the latency surface's shape.

Decode forwards and prefills get a ratio each: they drift apart (in run 16 the real decode
forwards ran 1.19-1.62x the profile while the prefills ran 1.06-1.51x, VALIDATION.md history), and the
prefill ratio also holds how much the engine's wake-up after idle differed from the profile's
`idle_wake_factor` — the sim's prefill times include that factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from specsim.results import RunResult


@dataclass(frozen=True)
class SpeedRatios:
    """Real over simulated forward time: decode per decoded token, prefill per prefilled token
    (NaN where either run did none)."""

    decode: float
    prefill: float

    @property
    def usable(self) -> bool:
        return math.isfinite(self.decode) and self.decode > 0

    def prefill_or_decode(self) -> float:
        """The prefill ratio, or — in a run without prefills — the decode one."""
        return self.prefill if math.isfinite(self.prefill) and self.prefill > 0 else self.decode


def speed_ratios(real: RunResult, sim: RunResult) -> SpeedRatios:
    """`sim` is the simulator on the same requests with the real run's acceptance replayed, so both
    did nearly the same work."""
    decode = _ratio(real, sim, ["draft_s", "verify_s"], lambda steps: steps["batch_size"].sum()
                    + steps["accepted"].sum())  # each decoding request: its accepted drafts + 1
    prefill = _ratio(real, sim, ["prefill_s"], lambda steps: steps["prefill_tokens"].sum())
    return SpeedRatios(decode, prefill)


def _ratio(real: RunResult, sim: RunResult, seconds_columns: list[str], count) -> float:
    per_unit = []
    for run in (real, sim):
        steps = run.steps
        seconds = float(steps[seconds_columns].to_numpy().sum())
        units = float(count(steps))
        per_unit.append(seconds / units if units else math.nan)
    real_s, sim_s = per_unit
    if math.isnan(real_s) or math.isnan(sim_s) or sim_s <= 0:
        return math.nan
    return real_s / sim_s


@dataclass(frozen=True)
class ProbeReading:
    """A speed probe (`calibrate/probe.py`): a few of the engine's forwards at one grid point of
    the profile, timed now, against what the simulator charges for the same forwards. Taken right
    before a real run, the ratios say how fast the machine is at that moment relative to the
    profile, without looking at the run itself."""

    decode_s: float  # a plain step and a speculative step's draft passes and verify
    decode_profile_s: float
    prefill_s: float  # one prompt, target then draft
    prefill_profile_s: float

    @property
    def decode_ratio(self) -> float:
        return self.decode_s / self.decode_profile_s

    @property
    def prefill_ratio(self) -> float:
        return self.prefill_s / self.prefill_profile_s

    def details(self) -> dict[str, float]:
        """What a real run's details.json keeps of the probe taken right before it."""
        return {"probe_decode_s": self.decode_s, "probe_decode_ratio": self.decode_ratio,
                "probe_prefill_s": self.prefill_s, "probe_prefill_ratio": self.prefill_ratio}


# The window speed(t) is smoothed over. A step takes 20-100 ms on the CPU pair, so 5 s holds
# 50-250 steps: their median is steady against the step-to-step spread (which the profile's own
# jitter already models), while this machine's drift — tens of percent over tens of seconds to
# minutes — still shows.
SPEED_WINDOW_S = 5.0


class SpeedSeries:
    """speed(t): a real run's forwards' measured time over the profile's price for the same step
    composition (realrun's `speed_samples`: time, decode ratio, prefill ratio), decode and prefill
    apart — they drift apart — each as a centred running median over `window_s`; between steps the
    last value holds, before the first the first's. Without prefill samples the decode series
    serves both."""

    def __init__(self, samples: list[tuple[float, ...]] | list[list[float | None]],
                 window_s: float = SPEED_WINDOW_S) -> None:
        data = np.array(samples, dtype=np.float64).reshape(len(samples), -1) if len(samples) else \
            np.empty((0, 2))
        self.decode = _RunningMedian(data[:, 0], data[:, 1], window_s)
        prefill = _RunningMedian(data[:, 0], data[:, 2], window_s) if data.shape[1] > 2 else self.decode
        self.prefill = prefill if prefill.usable else self.decode
        # the engine's host time per step with decode rows (seconds, not a ratio): the profile's is
        # one calibration moment at one batch shape, and this engine's Python around the forwards
        # drifts too (prefill-only steps, mostly wake-ups, keep the profile's own terms)
        self.host = _RunningMedian(data[:, 0], data[:, 3], window_s, allow_zero=True) \
            if data.shape[1] > 3 else None

    @property
    def usable(self) -> bool:
        return self.decode.usable or self.prefill.usable

    def factors_at(self, t_s: float) -> tuple[float, float]:
        """(decode factor, prefill factor) at simulated time t_s."""
        decode = self.decode if self.decode.usable else self.prefill
        return decode.at(t_s), self.prefill.at(t_s)

    def host_at(self, t_s: float) -> float:
        """The real engine's host time per step around simulated time t_s."""
        assert self.host is not None and self.host.usable
        return self.host.at(t_s)


class _RunningMedian:
    def __init__(self, times_s: np.ndarray, ratios: np.ndarray, window_s: float,
                 allow_zero: bool = False) -> None:
        positive = (ratios >= 0) if allow_zero else (ratios > 0)
        keep = np.isfinite(times_s) & np.isfinite(ratios) & positive
        order = np.argsort(times_s[keep], kind="stable")
        self.times_s = times_s[keep][order]
        values = ratios[keep][order]
        half = window_s / 2.0
        low = np.searchsorted(self.times_s, self.times_s - half, side="left")
        high = np.searchsorted(self.times_s, self.times_s + half, side="right")
        self.factors = np.array([np.median(values[a:b]) for a, b in zip(low, high, strict=True)])

    @property
    def usable(self) -> bool:
        return len(self.factors) > 0

    def at(self, t_s: float) -> float:
        index = int(np.searchsorted(self.times_s, t_s, side="right")) - 1
        return float(self.factors[max(index, 0)])

    def range(self) -> tuple[float, float]:
        return float(self.factors.min()), float(self.factors.max())
