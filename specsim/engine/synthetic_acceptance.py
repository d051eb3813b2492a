"""Synthetic acceptance: how many verified draft tokens a step accepts is drawn, not decided by
the models — vLLM's `rejection_sample_method: synthetic`, SGLang's SGLANG_SIMULATE_ACC_LEN.

Position j of a draft is accepted, given the earlier ones were, with `rates[j]` (the last rate
holds beyond the list). The draws come from one stream keyed by (seed, request, the request's
decode step), so the simulator and the real engine accept the same counts for the same request
at the same step whenever they verify the same number of tokens: the machine's speed is then the
only thing between the two worlds' acceptance. The real engine still runs the draft (its time is
real) and the target's verify; its extra token is the target's own choice after the drawn prefix,
so its output is not the target's greedy text.
"""

from __future__ import annotations

import numpy as np

# the stream's name among the seed's streams (specsim/scenario.py keeps the others)
STREAM_SYNTHETIC_ACCEPTANCE = 5


class SyntheticAcceptance:
    def __init__(self, rates: list[float], seed: int, positions: int) -> None:
        self.positions = max(positions, 1)
        padded = list(rates) + [rates[-1]] * max(0, self.positions - len(rates))
        self.rates = np.asarray(padded[: self.positions], dtype=np.float64)
        self.seed = seed
        # Philox turns its counter into 4 numbers at a time: each step takes whole counter values,
        # so step s's draws sit at a fixed place in the request's stream
        self._counters_per_step = -(-self.positions // 4)

    def prefixes(self, request: int, first_step: int, steps: int) -> np.ndarray:
        """The accepted prefix (of `positions` verified) at the request's decode steps
        first_step, …, first_step + steps − 1."""
        key = np.random.SeedSequence([self.seed, STREAM_SYNTHETIC_ACCEPTANCE, request]).generate_state(
            2, np.uint64)
        bits = np.random.Philox(key=key)
        bits.advance(first_step * self._counters_per_step)
        width = 4 * self._counters_per_step
        uniforms = np.random.Generator(bits).random(steps * width).reshape(steps, width)[:, : self.positions]
        return np.cumprod(uniforms < self.rates, axis=1).sum(axis=1).astype(np.int64)

    def for_rows(self, requests: np.ndarray, first_steps: np.ndarray, steps: int) -> np.ndarray:
        """[steps, rows]: `prefixes` of each row's request from its decode step on."""
        return np.stack([self.prefixes(request, first_step, steps) for request, first_step
                         in zip(requests.tolist(), first_steps.tolist(), strict=True)], axis=1)

    def confidences(self, steps: int, rows: int) -> np.ndarray:
        """Draft confidences where the profile has no acceptance model to sample them from: each
        position's rate (a random-weight profile's runs then see the rates they accept at)."""
        return np.broadcast_to(self.rates, (steps, rows, self.positions)).copy()
