"""The simulator's stand-in for running models: each step's draft confidences and acceptance are
sampled from the profile's acceptance model, then revealed pass by pass like real drafting."""

from __future__ import annotations

import numpy as np

from specsim.engine.batch import DecodeBatch
from specsim.engine.step import StepPlan
from specsim.engine.synthetic_acceptance import SyntheticAcceptance
from specsim.profile.acceptance import AcceptanceModel

# Steps sampled ahead per decoding row. Sampling is vectorised over rows × steps × positions, so
# a step costs two array slices instead of a dozen small numpy calls.
STEPS_AHEAD = 32


class SampledSpeculation:
    """A `SpeculationBackend` (specsim.engine.speculation) for one replica.

    For every decoding request it holds K positions of confidence and the accepted prefix if all
    K were verified, for each of the next STEPS_AHEAD steps, in a ring indexed by the replica's
    step: `begin_step` takes the next slot (refilling every row when the ring wraps, and rows that
    joined since in between); `draft`/`draft_pass` reveal its confidences, `verify` cuts its
    accepted prefix at the verified length. Having all K at hand is what lets `oracle` know the
    outcome ahead. Every slot is an independent draw, and whether a slot is used or discarded
    (a request finishing, joining mid-ring) never depends on its values, so the statistics are
    those of sampling each step afresh.
    """

    span_steps = True  # SimReplica may run fixed(k) spans from the ring (ring_prefix)

    def __init__(self, model: AcceptanceModel | None, rng: np.random.Generator,
                 synthetic: SyntheticAcceptance | None = None) -> None:
        self.model = model
        self.rng = rng
        # the scenario's synthetic acceptance: each slot's accepted prefix is drawn from the
        # request's own stream at its decode step (the real engine draws the same), and where the
        # profile has no acceptance model the confidences are the rates
        self.synthetic = synthetic
        self.positions = 0
        self.confidences = np.empty((0, 0))
        self.prefix = np.empty(0, dtype=np.int64)
        self._decode: DecodeBatch | None = None
        self._plan_lengths: np.ndarray | None = None
        self._longest = self._shortest = 0

    # -- the ring of pre-sampled steps -------------------------------------------------------------
    def attach(self, decode: DecodeBatch, positions: int) -> None:
        """Pre-sample `positions` draft positions per step for the rows of `decode`."""
        assert self.model is not None or self.synthetic is not None
        self._decode = decode
        self.positions = positions
        capacity = decode.capacity
        self._ring_confidence = np.zeros((STEPS_AHEAD, capacity, positions))
        self._ring_prefix = np.zeros((STEPS_AHEAD, capacity), dtype=np.int64)
        self._slot = STEPS_AHEAD  # the first step fills the ring
        self._stale: set[int] = set()  # rows whose request joined since their ring was filled
        decode.on_add.append(self._stale.add)
        decode.on_move.append(self._moved)

    def _moved(self, source: int, target: int) -> None:
        if source in self._stale:
            self._stale.discard(source)
            self._stale.add(target)
        else:
            self._ring_confidence[:, target] = self._ring_confidence[:, source]
            self._ring_prefix[:, target] = self._ring_prefix[:, source]
            self._stale.discard(target)

    def begin_step(self) -> np.ndarray:
        """Take the next step's samples for the current rows; returns their accepted prefix if
        all K positions were verified."""
        decode = self._decode
        assert decode is not None
        size = decode.size
        slot = self._slot
        if slot >= STEPS_AHEAD:
            confidence, prefix = self._sample(np.arange(size), STEPS_AHEAD)
            self._ring_confidence[:, :size] = confidence
            self._ring_prefix[:, :size] = prefix
            self._stale.clear()
            slot = 0
        elif self._stale:
            rows = sorted(row for row in self._stale if row < size)
            self._stale.clear()
            if rows:
                confidence, prefix = self._sample(np.asarray(rows), STEPS_AHEAD - slot)
                self._ring_confidence[slot:, rows] = confidence
                self._ring_prefix[slot:, rows] = prefix
        self._slot = slot + 1
        self.confidences = self._ring_confidence[slot, :size]
        self.prefix = self._ring_prefix[slot, :size]
        return self.prefix

    def _sample(self, rows: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Confidences [steps, rows, K] and accepted prefixes [steps, rows] for the next `steps`
        steps of these decode rows."""
        decode = self._decode
        assert decode is not None
        synthetic = self.synthetic
        if self.model is not None:
            confidence, prefix = self.model.sample_steps(self.rng, decode.category[rows], decode.latent[rows],
                                                         steps, self.positions)
        else:
            assert synthetic is not None
            confidence, prefix = synthetic.confidences(steps, len(rows)), None
        if synthetic is not None:
            prefix = synthetic.for_rows(decode.index[rows], decode.steps[rows], steps)
        return confidence, prefix

    def ring_position(self) -> tuple[int, int]:
        """(the slot `begin_step` took last, how many slots from it on are filled)."""
        return self._slot - 1, STEPS_AHEAD - self._slot + 1

    def ring_prefix(self, first: int, steps: int, size: int) -> np.ndarray:
        """Accepted prefixes (all K verified) of `steps` slots from `first`, rows [0:size]."""
        return self._ring_prefix[first:first + steps, :size]

    def ring_advance(self, steps: int) -> None:
        """Mark `steps` more slots as used (steps run without `begin_step`)."""
        self._slot += steps

    def expect(self, plan: StepPlan) -> None:
        """The step's planned lengths and their max/min, so `draft` need not recompute them."""
        self._plan_lengths = plan.draft_lengths
        self._longest, self._shortest = plan.longest, plan.shortest

    # -- SpeculationBackend ------------------------------------------------------------------------
    def draft(self, lengths: np.ndarray) -> np.ndarray:
        if lengths is self._plan_lengths and self._longest >= 0:
            longest, shortest = self._longest, self._shortest
        else:
            longest, shortest = int(lengths.max()), int(lengths.min())
        confidences = self.confidences[:, :longest].copy()
        if shortest < longest:
            confidences[np.arange(longest)[None, :] >= lengths[:, None]] = np.nan
        return confidences

    def draft_pass(self, active: np.ndarray, position: int) -> np.ndarray:
        return self.confidences[active, position]

    def verify(self, verify_lengths: np.ndarray) -> np.ndarray:
        if self.positions == 0 and len(self.prefix) != len(verify_lengths):
            return np.zeros(len(verify_lengths), dtype=np.int64)  # plain decoding: nothing drafted
        return np.minimum(self.prefix, verify_lengths)
