"""How many tokens each decoding request's draft cache lacks: what the step's first draft pass
feeds it (the real engine's "catch-up", realrun/backend.py). 1 as a rule — the last token, which
the next pass feeds; 2 after a step that accepted every drafted token (the last draft was proposed,
never fed); one more for each step the request did not draft. After a token tree, the accepted
path's length + 1: the draft fed its tree nodes as scratch (realrun/tree_backend.py), so it lacks
the accepted nodes and the target's token. The widest row sets the width of the first pass, which
the profile's first-pass grid prices."""

from __future__ import annotations

import numpy as np

from specsim.engine.batch import DecodeBatch


class DraftLag:
    def __init__(self, decode: DecodeBatch) -> None:
        self.tokens = np.ones(decode.capacity, dtype=np.int64)
        decode.on_add.append(self._added)
        decode.on_move.append(self._moved)

    def _added(self, row: int) -> None:
        self.tokens[row] = 1  # the prefill fed the draft the whole prompt; the first token is pending

    def _moved(self, source: int, target: int) -> None:
        self.tokens[target] = self.tokens[source]

    def first_pass_tokens(self, drafted: np.ndarray) -> int:
        """The first pass's width for a step drafting `drafted[i]` tokens in row i."""
        lag = self.tokens[: len(drafted)][drafted > 0]
        return int(lag.max()) if len(lag) else 1

    def widest(self, size: int) -> int:
        """The first pass's width when all of rows [0:size] draft."""
        return int(self.tokens[:size].max())

    def after_step(self, drafted: np.ndarray, accepted: np.ndarray) -> None:
        size = len(drafted)
        lag = self.tokens[:size]
        caught_up = np.where(accepted == drafted, 2, 1)
        lag[:] = np.where(drafted > 0, caught_up, lag + 1)

    def after_tree_step(self, nodes: np.ndarray, accepted: np.ndarray) -> None:
        """After a tree step: `nodes[i]` drafted (0: no tree), `accepted[i]` the path accepted."""
        size = len(nodes)
        lag = self.tokens[:size]
        lag[:] = np.where(nodes > 0, accepted + 1, lag + 1)

    def after_uniform_steps(self, k: int, last_accepted: np.ndarray) -> None:
        """After steps in which every row drafted k: only the last one counts."""
        size = len(last_accepted)
        self.tokens[:size] = np.where(last_accepted == k, 2, 1)
