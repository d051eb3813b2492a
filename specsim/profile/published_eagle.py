"""Acceptance of an EAGLE-3 head on Llama-3.1-8B-Instruct, from vLLM's published regression
figures, greedy decoding.

Published (vLLM `tests/v1/spec_decode/test_acceptance_length.py`, EAGLE-3 speculator for
Llama-3.1-8B-Instruct, k = 3, MT-Bench, greedy): P(accepted prefix ≥ i) = 0.730, 0.521, 0.355
for i = 1, 2, 3 (acceptance length 2.60). Their ratios are the conditional rates 0.730, 0.714,
0.681.

Modelled, not published: positions 4-8 keep the third position's conditional rate; each
position's confidences follow the same Beta shape and P(accept | confidence) line as the
Spec-Bench curves (`published.py`), the Beta mean solved so that the position's rate is the
published one exactly; tokens are independent within a request (the figures say nothing of
clustering). One category, `chat` (MT-Bench is multi-turn conversation).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from specsim.profile.confidence_model import beta_histogram, bin_centres
from specsim.profile.published import (
    ACCEPT_FLOOR,
    CONFIDENCE_BIN_EDGES,
    CONFIDENCE_CONCENTRATION,
    MAX_DRAFT_TOKENS,
    category_acceptance,
)
from specsim.profile.published_ranks import CITATION as RANKS_CITATION
from specsim.profile.published_ranks import modelled_ranks
from specsim.profile.schema import Acceptance

# P(accepted prefix ≥ i), i = 1..3, as vLLM's test asserts them
VLLM_EAGLE3_LLAMA31_8B = (0.730, 0.521, 0.355)
EAGLE_PAIRS = {("llama3.1-8b", "llama3.1-8b-eagle3")}
VLLM_CITATION = (
    "vLLM tests/v1/spec_decode/test_acceptance_length.py: Llama-3.1-8B-Instruct + its EAGLE-3 "
    "speculator, k=3, MT-Bench, greedy: P(prefix >= i) = 0.730, 0.521, 0.355 (acceptance length 2.60)"
)


def is_eagle_pair(target: str, draft: str) -> bool:
    return (target, draft) in EAGLE_PAIRS


def conditional_rates(prefix_at_least: tuple[float, ...] = VLLM_EAGLE3_LLAMA31_8B,
                      positions: int = MAX_DRAFT_TOKENS) -> np.ndarray:
    """P(accept at position j | earlier accepted) for j = 1..positions: the published ratios,
    the last one held beyond them."""
    survival = np.asarray(prefix_at_least, dtype=np.float64)
    rates = survival / np.concatenate([[1.0], survival[:-1]])
    return np.concatenate([rates, np.full(positions - len(rates), rates[-1])])


def histogram_for_rate(rate: float, accept_given_bin: np.ndarray) -> np.ndarray:
    """The Beta confidence histogram under which a token is accepted with probability `rate`."""
    def gap(mean: float) -> float:
        hist = beta_histogram(mean, CONFIDENCE_CONCENTRATION, CONFIDENCE_BIN_EDGES)
        return float(hist @ accept_given_bin) - rate
    return beta_histogram(brentq(gap, 1e-4, 1.0 - 1e-4, xtol=1e-12), CONFIDENCE_CONCENTRATION,
                          CONFIDENCE_BIN_EDGES)


def eagle_acceptance() -> Acceptance:
    accept = ACCEPT_FLOOR + (1.0 - ACCEPT_FLOOR) * bin_centres(CONFIDENCE_BIN_EDGES)
    hist = np.array([histogram_for_rate(rate, accept) for rate in conditional_rates()])
    curve = category_acceptance(hist, accept, request_share=0.0)
    return Acceptance(
        source="published",
        citations=[VLLM_CITATION, "modelled: positions 4-8 hold position 3's conditional rate; Beta "
                   "confidences and P(accept | c) = 0.2 + 0.8c as the Spec-Bench curves; independent tokens",
                   RANKS_CITATION],
        max_draft_tokens=MAX_DRAFT_TOKENS,
        default_category="chat",
        greedy={"chat": curve.model_copy(update={"ranks": modelled_ranks(curve)})},
        sampling=None,
    )
