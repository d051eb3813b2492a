"""The live progress line of a real run: requests done, output tokens/s, batch size, mean k."""

from __future__ import annotations

import time
from typing import TextIO

from specsim.engine.records import RunLog


class Progress:
    def __init__(self, total: int, log: RunLog, stream: TextIO, every_s: float = 0.5) -> None:
        self.total = total
        self.log = log
        self.stream = stream
        self.every_s = every_s
        self.started = time.perf_counter()
        self.last = 0.0
        self.shown = False

    def update(self, replica) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s:
            return
        self.last = now
        rows = self.log.recent_steps(20)  # (t, replica, batch, prefill, drafted, ..., k_mean, ...)
        batch = int(rows[-1, 2]) if len(rows) else 0
        decoding = rows[rows[:, 2] > 0]
        k_mean = float(decoding[:, 7].mean()) if len(decoding) else 0.0
        generated = sum(len(t) for t in replica.tokens) - replica.prompt_total
        rate = generated / max(now - self.started, 1e-9)
        self.stream.write(f"\rrealrun: {self.log.finished}/{self.total} requests done | {rate:7.1f} tok/s | "
                          f"batch {batch:3d} | mean k {k_mean:4.2f}   ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
