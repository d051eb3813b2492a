"""Interim workload spec (Poisson arrivals, fixed lengths) until the full generators land."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from specsim.workload.requests import Requests


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoissonArrivals(_Strict):
    kind: Literal["poisson"] = "poisson"
    rate: float = Field(gt=0)


class FixedLength(_Strict):
    kind: Literal["fixed"] = "fixed"
    value: int = Field(ge=1)


class WorkloadSpec(_Strict):
    duration_s: float = Field(gt=0)
    rate_scale: float = Field(default=1.0, gt=0)
    arrival: PoissonArrivals
    prompt_tokens: FixedLength
    output_tokens: FixedLength
    categories: dict[str, float] = Field(default_factory=lambda: {"chat": 1.0})


def generate_requests(spec: WorkloadSpec, rng: np.random.Generator, base_dir: Path) -> Requests:
    rate = spec.arrival.rate * spec.rate_scale
    count = rng.poisson(rate * spec.duration_s)
    arrival = np.sort(rng.uniform(0, spec.duration_s, count))
    names = tuple(spec.categories)
    shares = np.array([spec.categories[n] for n in names])
    category = rng.choice(len(names), size=count, p=shares / shares.sum())
    return Requests(arrival, np.full(count, spec.prompt_tokens.value, dtype=np.int64),
                    np.full(count, spec.output_tokens.value, dtype=np.int64),
                    category.astype(np.int64), names)
