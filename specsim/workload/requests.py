"""The requests one run replays: what the workload generator produces and both engines consume."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from specsim.workload.prefixes import PrefixTree


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
    # Effective SLO targets (target × scale), float64 per request; the workload generator leaves
    # them None and the scenario fills them in (`with_slos`), since SLO classes are a scenario
    # matter, not a traffic one.
    slo_ttft_s: np.ndarray | None = None
    slo_tpot_s: np.ndarray | None = None
    # Shared prompt prefixes (a workload that declares them): each request's deepest node in
    # `prefixes`, -1 where nothing is shared. None: every prompt is its own.
    prefix: np.ndarray | None = None
    prefixes: PrefixTree | None = None

    def with_slos(self, slo_ttft_s: np.ndarray, slo_tpot_s: np.ndarray) -> Requests:
        return replace(self, slo_ttft_s=np.asarray(slo_ttft_s, dtype=np.float64),
                       slo_tpot_s=np.asarray(slo_tpot_s, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.arrival_s)

    def category_names(self) -> np.ndarray:
        return np.asarray(self.categories, dtype=object)[self.category]
