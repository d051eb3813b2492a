"""A Profile from a handful of constants: linear step times and i.i.d. acceptance.

For checks against closed forms (M/D/1 waiting time, expected accepted length) and for quick
what-ifs ("what if the draft were twice as fast?"). Marked `source: roofline` with a note,
since nothing was measured.
"""

from __future__ import annotations

import numpy as np

from specsim.profile.fit import fit_latency
from specsim.profile.schema import (
    SCHEMA_VERSION,
    Acceptance,
    CategoryAcceptance,
    DraftFirstPassGrid,
    DraftStepGrid,
    Hardware,
    Latency,
    LatencyFit,
    Memory,
    ModelInfo,
    PrefillGrid,
    Profile,
    RankAcceptance,
    VerifyGrid,
)

BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CONTEXT_TOKENS = [16, 256, 1024, 4096, 16384]
PROMPT_TOKENS = [1, 16, 128, 1024, 8192]


def iid_acceptance(alpha: float, max_draft_tokens: int = 8, categories: tuple[str, ...] = ("chat",),
                   request_share: float = 0.0, rank_match: tuple[float, ...] = ()) -> Acceptance:
    """Every draft token accepted with probability `alpha`, whatever its confidence (uniform);
    for trees, the target picks the draft's r-th candidate (r ≥ 2) with `rank_match[r − 2]`,
    whatever its probability."""
    bins = 10
    edges = [i / bins for i in range(bins + 1)]
    positions = range(1, max_draft_tokens + 1)
    ranks = None
    if rank_match:
        ranks = RankAcceptance(
            probability_share=[1.0 / (len(rank_match) + 1)] * len(rank_match),
            match_given_probability=[[match] * bins for match in rank_match],
            match_samples_by_bin=[[0] * bins for _ in rank_match],
        )
    curve = CategoryAcceptance(
        confidence_bin_edges=edges,
        confidence_hist_by_position=[[1.0 / bins] * bins for _ in positions],
        accept_given_confidence=[alpha] * bins,
        accept_samples_by_bin=[0] * bins,
        request_share=request_share,
        position_acceptance=[alpha**j for j in positions],
        mean_accepted_length=[expected_tokens_per_step(alpha, k) for k in positions],
        requests=0,
        draft_tokens=0,
        ranks=ranks,
    )
    return Acceptance(
        source="published",
        citations=["i.i.d. model: Leviathan et al. 2023, arXiv 2211.17192, eq. 1"],
        max_draft_tokens=max_draft_tokens,
        default_category=categories[0],
        greedy={name: curve for name in categories},
        sampling={name: curve for name in categories},
    )


def expected_tokens_per_step(alpha: float, k: int) -> float:
    """(1 − α^(k+1)) / (1 − α): accepted prefix + the bonus token, i.i.d. acceptance α."""
    if alpha >= 1.0:
        return float(k + 1)
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def linear_profile(*, draft_step_s: float, verify_base_s: float, verify_per_token_s: float = 0.0,
                   prefill_base_s: float = 0.0, prefill_per_token_s: float = 0.0,
                   acceptance: Acceptance | None = None, kv_capacity_tokens: int = 1_000_000,
                   step_overhead_s: float = 0.0, plain_step_overhead_s: float | None = None,
                   idle_wake_factor: float = 0.0, idle_wake_s: float = 0.0,
                   prefill_step_overhead_s: float | None = None, first_pass_s: float | None = None,
                   first_pass_per_token_s: float = 0.0,
                   policy_step_overhead_s: dict[str, float] | None = None,
                   name: str = "synthetic") -> Profile:
    """draft step = draft_step_s; verify = base + per_token·B·(k+1); prefill = base + per_token·B·P;
    a step's first draft pass (where `first_pass_s` is given) = first_pass_s + per_token·(w − 1)
    for w tokens fed per request."""
    tokens_per_request = list(range(1, 10))
    b, c = np.meshgrid(BATCH_SIZES, CONTEXT_TOKENS, indexing="ij")
    draft = np.full(b.shape, draft_step_s)
    bv, qv, cv = np.meshgrid(BATCH_SIZES, tokens_per_request, CONTEXT_TOKENS, indexing="ij")
    verify = verify_base_s + verify_per_token_s * bv * qv
    bp, pp = np.meshgrid(BATCH_SIZES, PROMPT_TOKENS, indexing="ij")
    prefill = prefill_base_s + prefill_per_token_s * bp * pp
    first_pass = None
    if first_pass_s is not None:
        first = first_pass_s + first_pass_per_token_s * (qv - 1)
        first_pass = DraftFirstPassGrid(batch_sizes=BATCH_SIZES, tokens_per_request=tokens_per_request,
                                        context_tokens=CONTEXT_TOKENS, time_s=first.tolist(),
                                        fit=_fit(bv, qv, cv, first))
    model = ModelInfo(name=name, architecture={}, parameters=1, dtype="none", weights="random")
    return Profile(
        schema_version=SCHEMA_VERSION,
        name=name,
        source="roofline",
        notes="synthetic: linear step times from constants, not a measurement",
        hardware=Hardware(label="synthetic", device_name="synthetic", date="2026-11-23"),
        target=model,
        draft=model,
        latency=Latency(
            source="roofline", timer="synthetic", repeats=0,
            draft_step=DraftStepGrid(batch_sizes=BATCH_SIZES, context_tokens=CONTEXT_TOKENS,
                                     time_s=draft.tolist(), fit=_fit(b, 1, c, draft)),
            verify=VerifyGrid(batch_sizes=BATCH_SIZES, tokens_per_request=tokens_per_request,
                              context_tokens=CONTEXT_TOKENS, time_s=verify.tolist(),
                              fit=_fit(bv, qv, cv, verify)),
            prefill_target=PrefillGrid(batch_sizes=BATCH_SIZES, prompt_tokens=PROMPT_TOKENS,
                                       time_s=prefill.tolist(), fit=_fit(bp, pp, pp, prefill)),
            prefill_draft=PrefillGrid(batch_sizes=BATCH_SIZES, prompt_tokens=PROMPT_TOKENS,
                                      time_s=(prefill * 0).tolist(), fit=_fit(bp, pp, pp, prefill * 0)),
            draft_first_pass=first_pass,
            step_overhead_s=step_overhead_s,
            plain_step_overhead_s=plain_step_overhead_s,
            idle_wake_factor=idle_wake_factor,
            idle_wake_s=idle_wake_s,
            prefill_step_overhead_s=prefill_step_overhead_s,
            policy_step_overhead_s=policy_step_overhead_s or {},
        ),
        memory=Memory(target_weight_bytes=0, draft_weight_bytes=0, target_kv_bytes_per_token=1,
                      draft_kv_bytes_per_token=1, kv_capacity_tokens=kv_capacity_tokens),
        acceptance=acceptance,
    )


def _fit(batch: np.ndarray, tokens: np.ndarray | int, context: np.ndarray, time_s: np.ndarray) -> LatencyFit:
    if not np.any(time_s > 0):
        # a part that costs nothing (the synthetic draft's prefill) fits as zero
        return LatencyFit(features=["constant"], coefficients=[0.0], holdout_rel_error_median=0.0,
                          holdout_rel_error_max=0.0)
    return fit_latency(batch, np.broadcast_to(tokens, batch.shape), context, time_s)
