"""The requests one run replays: what the workload generator produces and both engines consume."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Requests:
    """One entry per request, sorted by arrival time (ties keep generation order).

    `category[i]` indexes `categories`; the category picks the acceptance curve. Lengths are
    in tokens; `output_tokens` ≥ 1 counts every generated token, the first one included.
    """

    arrival_s: np.ndarray  # float64
    prompt_tokens: np.ndarray  # int64, ≥ 1
    output_tokens: np.ndarray  # int64, ≥ 1
    category: np.ndarray  # int64 codes into `categories`
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.arrival_s)

    def category_names(self) -> np.ndarray:
        return np.asarray(self.categories, dtype=object)[self.category]
