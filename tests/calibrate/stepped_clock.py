"""A clock that moves only when told, for tests of the code that measures the machine: the real
models still compute (their outputs drive the engine), but the time they take is what the test
says — so an estimate can be held to the exact value it should recover, on a busy machine too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SteppedClock:
    """The engine's clock (`realrun.clock.Clock`'s interface): each model forward advances it by
    `forward_cost(model, inputs)`, a sleep by the sleep, `advance` by what a test's fake adds."""

    cuda = False

    def __init__(self, forward_cost: Callable[[Any, dict[str, Any]], float] | None = None) -> None:
        self.forward_cost = forward_cost or (lambda model, inputs: 0.0)
        self.time_s = 0.0
        self.origin = 0.0
        self.forward_s = 0.0

    def __call__(self) -> float:  # as calibrate.timing.Timer's clock
        return self.time_s

    def restart(self) -> None:
        self.origin = self.time_s

    def now(self) -> float:
        return self.time_s - self.origin

    def sleep(self, seconds: float) -> None:
        self.time_s += seconds

    def advance(self, seconds: float) -> None:
        self.time_s += seconds

    def forward(self, model, **inputs):
        output = model(**inputs)
        spent = self.forward_cost(model, inputs)
        self.time_s += spent
        self.forward_s += spent
        return output
