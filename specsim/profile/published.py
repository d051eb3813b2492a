"""Acceptance curves for a LLaMA-2-7B / Vicuna-7B-class target with a ~68M LLaMA draft, from
published speculative-decoding measurements, greedy decoding, up to 8 draft tokens.

What is published and what is modelled — the profile's `citations` repeat this:

- Published (Spec-Bench, Xia et al. 2024, arXiv 2401.07851, leaderboard in
  github.com/hemingkx/Spec-Bench/Leaderboard.md): the "SpS" baseline — transformers' assisted
  generation with a Vicuna-68M draft on Vicuna-7B-v1.3, greedy, fp16, batch 1 — per-task
  speedups on six tasks and one *overall* mean accepted tokens per step, on an A100-80GB and an
  RTX 3090. Per-task accepted lengths are not published.
- Derived: a per-task mean accepted length = overall mean accepted tokens × (task speedup /
  overall speedup), averaged over the two devices. First-order only: it assumes a step costs
  the same in every task (long summarisation/RAG prompts and the draft-length schedule break
  this a little, so the spread between tasks is, if anything, understated).
- Derived: the per-token acceptance α of each task, the i.i.d. α at which transformers'
  "heuristic" draft-length schedule (start 5; +2 after a fully accepted draft, else −1; min 1 —
  transformers 4.37.1, the version Spec-Bench pins) yields that mean accepted length.
- Assumed: `code` has no Spec-Bench task; it takes the overall figure.
- Modelled, not published for any task: the per-position confidence histograms (Beta, mean
  falling ~3% per position), P(accept | confidence) = 0.2 + 0.8·c, and the within-request
  correlation λ = 0.3. Each category's level is calibrated so that the full model (correlation
  included) reproduces the derived mean accepted length under the same heuristic schedule.

`position_acceptance` and `mean_accepted_length` are computed from the model, never typed in.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from specsim.profile.confidence_model import (
    beta_histogram,
    bin_centres,
    heuristic_schedule_mean_tokens,
    latent_quadrature,
    mean_accepted_length,
    position_acceptance,
    survival_given_latent,
)
from specsim.profile.published_ranks import CITATION as RANKS_CITATION
from specsim.profile.published_ranks import modelled_ranks
from specsim.profile.schema import Acceptance, CategoryAcceptance

CATEGORIES = ("chat", "code", "summarisation", "math", "translation", "retrieval")
DEFAULT_CATEGORY = "chat"
MAX_DRAFT_TOKENS = 8

# The pairs these curves describe: a 7B Llama-2/Vicuna-shaped target with the LLaMA-68M draft.
PUBLISHED_PAIRS = {("llama2-7b", "llama-68m")}

SPEC_BENCH_CITATION = (
    "Xia et al. 2024, 'Unlocking Efficiency in Large Language Model Inference: A Comprehensive Survey "
    "of Speculative Decoding' (Spec-Bench), arXiv 2401.07851, Findings of ACL 2024; leaderboard "
    "github.com/hemingkx/Spec-Bench Leaderboard.md: SpS = transformers assisted generation, "
    "Vicuna-68M draft, Vicuna-7B-v1.3 target, greedy, fp16, batch 1"
)

# Spec-Bench leaderboard, SpS row on Vicuna-7B-v1.3: per-task speedup over autoregressive decoding,
# overall speedup, and mean accepted tokens per step (1.00 = plain decoding; bonus token included).
SPEC_BENCH_SPS: dict[str, dict[str, float]] = {
    "a100-80gb": {
        "multi_turn_conversation": 1.66, "translation": 1.13, "summarization": 1.62,
        "question_answering": 1.49, "math_reasoning": 1.47, "rag": 1.55,
        "overall": 1.49, "mean_accepted_tokens": 2.28,
    },
    "rtx3090": {
        "multi_turn_conversation": 1.98, "translation": 1.37, "summarization": 2.00,
        "question_answering": 1.95, "math_reasoning": 1.89, "rag": 1.76,
        "overall": 1.83, "mean_accepted_tokens": 2.29,
    },
}

# Which Spec-Bench task stands for each category (None: no such task; the overall figure is used).
SPEC_BENCH_TASK = {
    "chat": "multi_turn_conversation",
    "code": None,
    "summarisation": "summarization",
    "math": "math_reasoning",
    "translation": "translation",
    "retrieval": "rag",
}

# --- the modelled shape (assumptions, stated in the profile) ---------------------------------
CONFIDENCE_BIN_EDGES = np.linspace(0.0, 1.0, 21)
# Beta concentration κ = a + b: 2 gives a broad distribution (uniform at mean 0.5) that piles up
# near 1 as the mean rises, the usual look of a small draft's top-token probabilities.
CONFIDENCE_CONCENTRATION = 2.0
# P(accept | c) = floor + (1 − floor)·c: rises with confidence, never reaches 0 (a low-confidence
# greedy draft token can still equal the target's argmax).
ACCEPT_FLOOR = 0.2
# The marginal acceptance at position j is α₁·decay^(j−1): a modest fall with depth (~19% by
# position 8), as the draft conditions on more of its own guesses.
POSITION_DECAY = 0.97
# λ: share of the variance of the confidences' normal scores shared within a request. Requests
# differ in how predictable they are (boilerplate vs. open-ended text), so acceptance clusters by
# request; 0.3 gives a visible but not dominant clustering. No published value exists.
REQUEST_SHARE = 0.3


def is_published_pair(target: str, draft: str) -> bool:
    return (target, draft) in PUBLISHED_PAIRS


def derived_mean_accepted_tokens() -> dict[str, float]:
    """Per-category mean accepted tokens per step, scaled from Spec-Bench's overall figure."""
    boards = list(SPEC_BENCH_SPS.values())
    overall_tokens = float(np.mean([board["mean_accepted_tokens"] for board in boards]))
    derived = {}
    for category, task in SPEC_BENCH_TASK.items():
        if task is None:
            derived[category] = overall_tokens
            continue
        ratio = float(np.mean([board[task] / board["overall"] for board in boards]))
        derived[category] = overall_tokens * ratio
    return derived


def iid_alpha_for_heuristic_schedule(mean_tokens: float, positions: int = MAX_DRAFT_TOKENS) -> float:
    """The i.i.d. per-token acceptance α whose heuristic-schedule mean tokens per step is `mean_tokens`."""
    exponents = np.arange(1, positions + 1)

    def gap(alpha: float) -> float:
        return heuristic_schedule_mean_tokens(alpha**exponents) - mean_tokens

    return float(brentq(gap, 1e-6, 1.0 - 1e-9, xtol=1e-12))


def modelled_curves(first_position_alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(histograms [position][bin], P(accept | bin)) for a first-position marginal acceptance."""
    accept = ACCEPT_FLOOR + (1.0 - ACCEPT_FLOOR) * bin_centres(CONFIDENCE_BIN_EDGES)
    alphas = first_position_alpha * POSITION_DECAY ** np.arange(MAX_DRAFT_TOKENS)
    means = (alphas - ACCEPT_FLOOR) / (1.0 - ACCEPT_FLOOR)
    hist = np.array([beta_histogram(m, CONFIDENCE_CONCENTRATION, CONFIDENCE_BIN_EDGES) for m in means])
    return hist, accept


def model_heuristic_mean_tokens(first_position_alpha: float) -> float:
    hist, accept = modelled_curves(first_position_alpha)
    z, weights = latent_quadrature()
    survival = survival_given_latent(hist, accept, REQUEST_SHARE, z)
    return heuristic_schedule_mean_tokens(survival, weights)


def calibrate_first_position_alpha(mean_tokens: float) -> float:
    """α₁ at which the model reproduces `mean_tokens` under the heuristic schedule."""
    # The Beta mean must stay inside (0, 1) at every position: bound α₁ accordingly.
    lowest = (ACCEPT_FLOOR + 1e-3) / POSITION_DECAY ** (MAX_DRAFT_TOKENS - 1)
    highest = 1.0 - 1e-3
    return float(brentq(lambda a: model_heuristic_mean_tokens(a) - mean_tokens, lowest, highest,
                        xtol=1e-10))


def category_acceptance(hist_by_position: np.ndarray, accept_given_bin: np.ndarray,
                        request_share: float, edges: np.ndarray = CONFIDENCE_BIN_EDGES) -> CategoryAcceptance:
    """A category's curves with the reporting fields computed from the model itself."""
    rates = position_acceptance(hist_by_position, accept_given_bin, request_share)
    return CategoryAcceptance(
        confidence_bin_edges=[_r(e) for e in edges],
        confidence_hist_by_position=[_shares(row) for row in hist_by_position],
        accept_given_confidence=[_r(p) for p in accept_given_bin],
        accept_samples_by_bin=[0] * (len(edges) - 1),  # nothing was measured
        request_share=request_share,
        position_acceptance=[_r(p) for p in rates],
        mean_accepted_length=[_r(t) for t in mean_accepted_length(rates)],
        requests=0,
        draft_tokens=0,
    )


def published_acceptance() -> Acceptance:
    derived = derived_mean_accepted_tokens()
    curves: dict[str, CategoryAcceptance] = {}
    lines = []
    for category in CATEGORIES:
        first_alpha = calibrate_first_position_alpha(derived[category])
        hist, accept = modelled_curves(first_alpha)
        curve = category_acceptance(hist, accept, REQUEST_SHARE)
        curves[category] = curve.model_copy(update={"ranks": modelled_ranks(curve)})
        task = SPEC_BENCH_TASK[category] or "overall (no code task in Spec-Bench: assumed)"
        lines.append(
            f"{category} <- {task}: derived mean accepted tokens {derived[category]:.3f}, "
            f"i.i.d. alpha {iid_alpha_for_heuristic_schedule(derived[category]):.3f}"
        )
    return Acceptance(
        source="published",
        citations=[*acceptance_citations(), "derived per category: " + "; ".join(lines), RANKS_CITATION],
        max_draft_tokens=MAX_DRAFT_TOKENS,
        default_category=DEFAULT_CATEGORY,
        greedy=curves,
        sampling=None,
    )


def acceptance_citations() -> list[str]:
    a100, rtx = SPEC_BENCH_SPS["a100-80gb"], SPEC_BENCH_SPS["rtx3090"]
    tasks = ("multi_turn_conversation", "translation", "summarization", "question_answering",
             "math_reasoning", "rag")
    return [
        SPEC_BENCH_CITATION,
        "published (Spec-Bench SpS, speedup per task " + ", ".join(tasks) + "): A100-80GB "
        + ", ".join(f"{a100[t]:.2f}" for t in tasks) + f", overall {a100['overall']:.2f}, mean accepted "
        f"tokens {a100['mean_accepted_tokens']:.2f}; RTX 3090 " + ", ".join(f"{rtx[t]:.2f}" for t in tasks)
        + f", overall {rtx['overall']:.2f}, mean accepted tokens {rtx['mean_accepted_tokens']:.2f}",
        "derived: per-task mean accepted tokens = overall mean accepted tokens x task speedup / overall "
        "speedup, averaged over both devices (assumes equal step cost across tasks)",
        "derived: alpha = the i.i.d. per-token acceptance giving that mean under transformers' heuristic "
        "draft-length schedule (start 5, +2 when all accepted, else -1, min 1; transformers 4.37.1 as "
        "pinned by Spec-Bench), draft length capped at 8",
        "assumed: code has no Spec-Bench task and takes the overall mean accepted tokens",
        f"modelled, not published: confidence per position ~ Beta(mean m_j, concentration "
        f"{CONFIDENCE_CONCENTRATION:g}) in {len(CONFIDENCE_BIN_EDGES) - 1} bins; P(accept | c) = "
        f"{ACCEPT_FLOOR:g} + {1 - ACCEPT_FLOOR:g}c; marginal acceptance falls x{POSITION_DECAY:g} per "
        f"position; request_share lambda = {REQUEST_SHARE:g}; level calibrated per category so the "
        "model reproduces the derived mean accepted tokens under the heuristic schedule; "
        "accept_samples_by_bin, requests and draft_tokens are 0 because nothing was measured",
        "context: Miao et al. 2023, SpecInfer (arXiv 2305.09781), source of the LLaMA-68M draft; "
        "Liu et al. 2023, Online Speculative Decoding (arXiv 2310.07177), shows small (LLaMA-160M) "
        "drafts' acceptance on Vicuna-7B varies strongly by domain - used qualitatively only",
    ]


def _r(value: float) -> float:
    return float(f"{float(value):.6g}")


def _shares(row: np.ndarray) -> list[float]:
    # Rounded shares must still sum to 1 (the schema checks within 1e-6): put the residue in the
    # largest bin.
    shares = [_r(s) for s in row]
    largest = int(np.argmax(shares))
    shares[largest] = _r(shares[largest] + (1.0 - sum(shares)))
    return shares
