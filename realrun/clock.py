"""Wall-clock timing of device work: `perf_counter` on the CPU; on CUDA the device is synchronised
before each reading, so a measured interval covers the kernels it launched. The engine waits
through its clock too (`sleep`), so a test can drive the engine on a clock it advances itself."""

from __future__ import annotations

import time

import torch


class Clock:
    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.origin = time.perf_counter()
        self.forward_s = 0.0  # time inside model forwards, accumulated (for the overhead figure)

    def restart(self) -> None:
        """Time 0 is now: the arrival times count from here."""
        self.origin = time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> float:
        """Seconds since the run started (the arrival times' clock)."""
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - self.origin

    def forward(self, model, **inputs):
        """Run a model forward and count its time."""
        start = self.now()
        output = model(**inputs)
        self.forward_s += self.now() - start
        return output
