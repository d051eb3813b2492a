"""Replaying measured acceptance: the simulator's step-time and batching models run as usual, but
whether a draft token is accepted follows what the real engine measured for that request, not the
profile's acceptance model. `specsim validate` uses it to separate the simulator's two error
sources: with acceptance replayed, what error remains is timing (step time, batching, prefill).

What is replayed: one per-token acceptance probability per request (from the real run's
requests table, `specsim.validate.acceptance.measured_acceptance`). Each verified position of
that request is accepted with that probability, the first rejection ends the run — the i.i.d.
(truncated geometric) model, for which accepted / (accepted + rejecting steps) is exactly the
maximum-likelihood estimate, so replaying it reproduces the request's measured acceptance within
sampling error whatever draft lengths the simulated policy picks. Draft confidences (which
confidence-driven policies read) are still sampled from the profile; requests without a
measurement (NaN: they never verified a draft token) fall back to the profile's acceptance.
"""

from __future__ import annotations

import numpy as np

from sim.sampling import SampledSpeculation
from specsim.engine.batch import DecodeBatch
from specsim.profile.acceptance import AcceptanceModel


class ReplayedAcceptance(SampledSpeculation):
    """A `SpeculationBackend` for one replica whose acceptance is each request's measured rate.

    `decode` is the replica's decode batch: each step, its rows' request indices pick the
    measured rates.
    """

    def __init__(self, model: AcceptanceModel | None, rng: np.random.Generator, decode: DecodeBatch,
                 acceptance: np.ndarray) -> None:
        super().__init__(model, rng)  # type: ignore[arg-type]  # None: confidences come from the rates
        self.decode = decode
        self.acceptance = np.asarray(acceptance, dtype=np.float64)
        # its own stream (spawning leaves the parent's untouched): confidences, and the acceptance
        # of requests without a measurement, are exactly what the sampled run draws
        self.replay_rng = rng.spawn(1)[0]

    # The fixed(k) spans of SimReplica read accepted prefixes straight from the sampling
    # ring; replayed acceptance must be drawn step by step instead.
    span_steps = False

    def begin_step(self) -> np.ndarray:
        sampled = super().begin_step()  # confidences (and the fallback prefix) from the profile
        size = len(sampled)
        rates = self.acceptance[self.decode.index[:size]]
        measured = ~np.isnan(rates)
        draws = self.replay_rng.random((size, self.positions)) < np.nan_to_num(rates, nan=0.0)[:, None]
        replayed = np.cumprod(draws, axis=1).sum(axis=1)
        self.prefix = np.where(measured, replayed, sampled)
        return self.prefix
