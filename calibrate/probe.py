"""A machine-speed probe: a few of the engine's own forwards at one point of a profile's grids,
timed the way calibrate times the grids, in under a second — and the profile's price for them.

The forwards: one request at the grid context nearest 64 tokens, a plain step (the verify of one
token) and a speculative step (its first draft pass, later passes, the verify of q tokens, q the
smallest grid point above 1 from 3 up), each an engine backend call inside engine-shaped steps
(`calibrate.latency.measure_decode`); and one prefill of a prompt at the grid's length nearest 32,
target then draft (`measure_prefill`). The profile's price is what the simulator charges for the
same forwards (`LatencyModel`), so the ratio measured / price is the machine's speed against the
profile's at that moment, whatever profile `validate` was given.

What it reads, on the 2-core VM (`benchmarks/probe_drift.py`, 2026-12-02): right after a quick
calibration, decode ×0.82-0.90 and prefill ×0.82-0.87 (medians of 10-s windows, 14:21 UTC; single
readings 0.64-1.00 and 0.70-0.99) — its lone batch-1 point runs warmer than the grid's interleaved
blocks, so it reads the profile 10-20% fast; on an idle VM its 10-15-s medians move by ±15% from
one window to the next. Before the real runs of validate run 24, ×0.92-1.49 while those runs'
forwards took ×1.02-1.30 what the simulator charged, with no relation point by point: a
half-second reading of the moment does not predict the next minute on a shared machine, so
validate reports it and scales nothing by it. The mean of a load's eight readings did no better,
reliably (a simulation scaled by it: closer in runs 24-25, further in run 26, where this point
read ×0.82 right after the calibration; VALIDATION.md history).

Until 2026-12-02 the probe was one bare transformers forward against a dynamic cache, compared
with the same forward after the calibration (runs 14 and 21-23: real/calibration 0.57-1.16 while
the engine's forwards took ×1.01-1.30 what the simulator charged, VALIDATION.md history); this one reads
against the profile itself, whichever profile validate was given, in the unit of validate's
"forward time, real run / simulator" note.
"""

from __future__ import annotations

from pathlib import Path

from calibrate.grid import default_grid
from calibrate.latency import measure_decode, measure_prefill
from calibrate.timing import Timer
from realrun.models import load_model
from specsim.profile import Profile
from specsim.profile.latency import LatencyModel
from specsim.validate.speed import ProbeReading

CONTEXT_TOKENS = 64  # the grid context nearest this is probed
PROMPT_TOKENS = 32  # the prefill grid's prompt length nearest this is probed
VERIFY_TOKENS = 3  # a step of two drafts: a first pass and a later one


def nearest(values: list[int], wanted: int) -> int:
    return min(values, key=lambda value: (abs(value - wanted), value))


class SpeedProbe:
    """Loads the pair once; each call times the probe's forwards (seconds) against `profile`."""

    def __init__(self, target: str | Path, draft: str | Path, profile: Profile, device: str = "cpu",
                 dtype: str | None = None) -> None:
        kind = device.split(":")[0]
        dtype = dtype or ("float32" if kind == "cpu" else "bfloat16")
        self.target = load_model(target, "--target", kind, dtype).model
        self.draft = load_model(draft, "--draft", kind, dtype).model
        self.device, self.dtype = kind, next(self.target.parameters()).dtype
        latency = profile.latency
        self.context = nearest(latency.verify.context_tokens, CONTEXT_TOKENS)
        above_one = [q for q in latency.verify.tokens_per_request if q > 1]
        if not above_one:
            raise ValueError(f"profile {profile.name}: its verify grid has no point with q > 1")
        self.verify_tokens = min(above_one, key=lambda q: (q < VERIFY_TOKENS, abs(q - VERIFY_TOKENS)))
        self.prompt = nearest(latency.prefill_target.prompt_tokens, PROMPT_TOKENS)
        self.profile_latency = LatencyModel(latency)
        # the quick grid's timer (as `validate --calibrate` times the profile): medians as steady
        grid = default_grid(kind, quick=True, max_draft_tokens=max(latency.verify.tokens_per_request) - 1)
        self.timer = Timer(kind, grid.warmup, grid.repeats, grid.budget_s, grid.passes)

    def decode_price_s(self) -> float:
        """What the simulator charges for the probe's decode forwards."""
        latency, c, q = self.profile_latency, self.context, self.verify_tokens
        return self._decode_s(latency.verify_s(1, 1, c), latency.draft_first_pass_s(1, 1, c),
                              latency.draft_step_s(1, c), latency.verify_s(1, q, c))

    def _decode_s(self, plain_verify_s: float, first_pass_s: float, later_pass_s: float,
                  verify_s: float) -> float:
        """The probe's decode forwards: a plain step, then a step of q − 1 drafts (a first pass,
        q − 2 later ones) and its verify — one sum for the measured and the priced times alike."""
        return plain_verify_s + first_pass_s + (self.verify_tokens - 2) * later_pass_s + verify_s

    def __call__(self) -> ProbeReading:
        c, q = self.context, self.verify_tokens
        times = measure_decode(self.target, self.draft, (1,), (1, q), (c,), self.timer, self.dtype,
                               self.device, first_pass_tokens=(1,))
        decode_s = self._decode_s(times.verify_s[0][0][0], times.first_pass_s[0][0][0],
                                  times.draft_step_s[0][0], times.verify_s[0][1][0])
        target_s, draft_s = measure_prefill(self.target, self.draft, (1,), (self.prompt,), self.timer,
                                            self.dtype, self.device)  # timed with CUDA events on a GPU
        return ProbeReading(decode_s=decode_s, decode_profile_s=self.decode_price_s(),
                            prefill_s=target_s[0][0] + draft_s[0][0],
                            prefill_profile_s=self.profile_latency.prefill_s(1, self.prompt, with_draft=True))
