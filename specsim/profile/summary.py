"""A short plain-text summary of a profile: what `specsim profile show` prints.

Latencies are read from the grids (linear interpolation between grid points, as the simulator
does) and from the fit only outside them, so the summary shows what a simulation will use.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.optimize import brentq

from specsim.profile.confidence_model import bin_centres, confidence_bins, iid_mean_accepted_length
from specsim.profile.fit import predict
from specsim.profile.schema import (
    CategoryAcceptance,
    DraftStepGrid,
    Latency,
    PrefillGrid,
    Profile,
    VerifyGrid,
)

SUMMARY_BATCHES = (1, 8, 32)
SUMMARY_CONTEXT = 1024
SUMMARY_DRAFT_TOKENS = 4


def grid_time_s(grid: DraftStepGrid | VerifyGrid | PrefillGrid, batch: float, tokens_per_request: float,
                context: float) -> float:
    """Time of one forward from the grid where the query lies inside it, else from the fit."""
    if isinstance(grid, VerifyGrid):
        axes = (grid.batch_sizes, grid.tokens_per_request, grid.context_tokens)
        point = (batch, tokens_per_request, context)
    elif isinstance(grid, DraftStepGrid):
        axes, point = (grid.batch_sizes, grid.context_tokens), (batch, context)
    else:
        axes, point = (grid.batch_sizes, grid.prompt_tokens), (batch, tokens_per_request)
    inside = all(axis[0] <= value <= axis[-1] for axis, value in zip(axes, point, strict=True))
    # an axis of one point cannot be interpolated along: the fit answers
    if inside and all(len(axis) >= 2 for axis in axes):
        interpolate = RegularGridInterpolator([np.asarray(a, dtype=np.float64) for a in axes],
                                              np.asarray(grid.time_s, dtype=np.float64))
        return float(interpolate(np.asarray([point], dtype=np.float64))[0])
    return float(predict(grid.fit, batch, tokens_per_request, context)[0])


def iid_equivalent_alpha(mean_length: float, draft_tokens: int) -> float:
    """The constant α whose (1 − α^(k+1)) / (1 − α) equals a mean accepted length at k."""
    if mean_length <= 1.0:
        return 0.0
    if mean_length >= draft_tokens + 1:
        return 1.0
    return float(brentq(lambda a: iid_mean_accepted_length(a, draft_tokens) - mean_length, 0.0, 1.0 - 1e-12))


def acceptance_rate(curve: CategoryAcceptance, draft_tokens: int) -> float:
    """Accepted / drafted when drafting k tokens: the expected accepted prefix over k."""
    return float(sum(curve.position_acceptance[:draft_tokens])) / draft_tokens


def summary_text(profile: Profile) -> str:
    lines = [
        f"{profile.name}  (source: {profile.source}, schema {profile.schema_version})",
        f"hardware: {profile.hardware.label} - {profile.hardware.device_name}, {profile.hardware.date}",
    ]
    for role, model in (("target", profile.target), ("draft", profile.draft)):
        lines.append(f"{role}: {model.name} ({model.parameters / 1e9:.3g}B parameters, {model.dtype}, "
                     f"weights {model.weights})")
    lines += _engine_lines(profile)
    lines += _latency_lines(profile)
    lines += _memory_lines(profile)
    lines += _acceptance_lines(profile)
    return "\n".join(lines)


def fused_step_s(profile: Profile, batch: int, k: int, context_tokens: float) -> float:
    """The step a fused engine runs for `batch` rows drafting and verifying k tokens each."""
    from specsim.policy.cost import CostEstimator  # the policies' package imports the profile's
    from specsim.profile.engine import EngineModel
    from specsim.profile.latency import LatencyModel

    cost = CostEstimator(LatencyModel(profile.latency), k > 0, EngineModel(profile.engine))
    return cost.uniform_step_s(batch, k, context_tokens)


def _engine_lines(profile: Profile) -> list[str]:
    engine = profile.engine
    if engine is None:
        return ["engine: separate forwards (draft passes, verify, prefill), no fixed costs beyond the grids"]
    lines = [f"engine: {engine.name}, {engine.composition} forwards; per target forward "
             f"{engine.target_forward_s * 1e3:.3f} ms, per draft forward {engine.draft_forward_s * 1e3:.3f} "
             f"ms, per request outside the steps {engine.request_overhead_s * 1e3:.3g} ms; prefix caching "
             + (f"in {engine.kv_block_tokens}-token blocks" if engine.prefix_caching else "off")]
    if engine.roofline is not None:
        roof = engine.roofline
        lines.append(f"  fused forward: roofline at {roof.bandwidth_efficiency:.3g} of "
                     f"{roof.memory_bandwidth_bytes_per_s / 1e12:.3g} TB/s and "
                     f"{roof.compute_efficiency:.3g} of {roof.peak_flops_per_s / 1e12:.4g} TFLOP/s")
        step_s = fused_step_s(profile, batch=1, k=0, context_tokens=1024.0)
        lines.append(f"  batch-1 step without speculation at context 1024: {step_s * 1e3:.2f} ms "
                     "(forward + step overhead)")
        # published measurements of the same setup, where the profile cites some
        lines += [f"  {c}" for c in profile.citations if c.startswith("reference:")]
        if roof.tensor_parallel > 1:
            lines.append(f"  tensor parallel: the target over {roof.tensor_parallel} GPUs, all-reduces "
                         f"{roof.target.allreduce_s_per_token * 1e6:.3g} us per token of a forward beyond "
                         "their latency; the draft whole on each GPU")
    if engine.cuda_graph_sizes:
        sizes = engine.cuda_graph_sizes
        lines.append(f"  CUDA graphs: a forward of up to {sizes[-1]} tokens pads to the next of {len(sizes)} "
                     f"captured sizes ({', '.join(map(str, sizes[:6]))}, …, {sizes[-1]}): a staircase")
    if engine.fit is not None:
        fit = engine.fit
        lines.append(f"  fitted ({', '.join(fit.parameters)}) to {len(fit.files)} benchmark run(s): "
                     f"mean |error| {fit.mean_abs_rel_error:.1%} on {', '.join(fit.metrics)}")
    return lines


def _latency_lines(profile: Profile) -> list[str]:
    latency = profile.latency
    k = SUMMARY_DRAFT_TOKENS
    plain = ""
    if latency.plain_step_overhead_s is not None:
        plain = f" ({latency.plain_step_overhead_s * 1e3:.2f} ms when nobody drafts)"
    if latency.prefill_step_overhead_s is not None:
        plain += f" ({latency.prefill_step_overhead_s * 1e3:.2f} ms prefill only)"
    if latency.policy_step_overhead_s:
        plain += "; serving " + ", ".join(f"{label} {overhead_s * 1e3:.2f} ms"
                                          for label, overhead_s in latency.policy_step_overhead_s.items())
    lines = [
        f"latency ({latency.source}, timer {latency.timer}, repeats {latency.repeats}, step overhead "
        f"{latency.step_overhead_s * 1e3:.2f} ms{plain}, forwards of the first step after idle "
        f"×{1 + latency.idle_wake_factor:.2f}" + (f", {latency.idle_wake_s * 1e3:.2f} ms late"
                                                   if latency.idle_wake_s else "")
        + f"{_spread(latency)}), "
        f"context {SUMMARY_CONTEXT}:",
        f"  {'batch':>5}  {'draft step':>11}  {'verify k=0':>11}  {f'verify k={k}':>11}"
        + (f"  {'1st pass 1/2':>13}" if latency.draft_first_pass is not None else ""),
    ]
    for batch in SUMMARY_BATCHES:
        draft = grid_time_s(latency.draft_step, batch, 1, SUMMARY_CONTEXT)
        plain = grid_time_s(latency.verify, batch, 1, SUMMARY_CONTEXT)
        verify = grid_time_s(latency.verify, batch, k + 1, SUMMARY_CONTEXT)
        line = f"  {batch:>5}  {_ms(draft):>11}  {_ms(plain):>11}  {_ms(verify):>11}"
        if latency.draft_first_pass is not None:  # a step's first draft pass, 1 and 2 tokens fed
            first = [grid_time_s(latency.draft_first_pass, batch, w, SUMMARY_CONTEXT) for w in (1, 2)]
            line += f"  {_ms(first[0]) + ' / ' + _ms(first[1]):>13}"
        lines.append(line)
    fits = [("draft_step", latency.draft_step.fit), ("verify", latency.verify.fit),
            ("prefill_target", latency.prefill_target.fit), ("prefill_draft", latency.prefill_draft.fit)]
    if latency.draft_first_pass is not None:
        fits.append(("draft_first_pass", latency.draft_first_pass.fit))
    errors = ", ".join(
        f"{name} {fit.holdout_rel_error_median:.1%} / {fit.holdout_rel_error_max:.1%}" for name, fit in fits
    )
    lines.append(f"fit held-out relative error (median / max): {errors}")
    return lines


def _memory_lines(profile: Profile) -> list[str]:
    memory = profile.memory
    if memory.kv_capacity_tokens is None:
        return ["memory: device memory unknown; no KV capacity"]
    batches = ", ".join(f"{context}: {batch}" for context, batch in memory.max_batch_by_context.items())
    return [f"memory: KV capacity {memory.kv_capacity_tokens:,} tokens; largest batch by context {batches}"]


def _acceptance_lines(profile: Profile) -> list[str]:
    acceptance = profile.acceptance
    if acceptance is None:
        return ["acceptance: none (latency-only profile)"]
    k = min(SUMMARY_DRAFT_TOKENS, acceptance.max_draft_tokens)
    lines = [
        f"acceptance ({acceptance.source}, greedy, up to {acceptance.max_draft_tokens} draft tokens, "
        f"default {acceptance.default_category}):",
        f"  {'category':<14}  {'alpha':>6}  {f'rate k={k}':>9}  {f'mean accepted length k={k}':>26}",
    ]
    for name, curve in acceptance.greedy.items():
        length = curve.mean_accepted_length[k - 1]
        lines.append(f"  {name:<14}  {iid_equivalent_alpha(length, k):>6.3f}  "
                     f"{acceptance_rate(curve, k):>9.3f}  {length:>26.3f}")
    lines.append("  (alpha: the constant per-token acceptance giving the same mean accepted length at "
                 f"k={k}; rate: accepted / drafted)")
    return lines + _tree_lines(profile)


def _tree_lines(profile: Profile) -> list[str]:
    """What a token tree could gain: P(the target's token is among the draft's top w) at the
    first position, from the per-rank curves (schema 4)."""
    assert profile.acceptance is not None
    curves = {name: curve for name, curve in profile.acceptance.greedy.items() if curve.ranks is not None}
    if not curves:
        return ["token trees: no per-rank curves (sequences only)"]
    widest = min(1 + len(curve.ranks.probability_share) for curve in curves.values() if curve.ranks)
    widths = sorted({1, 2, widest})
    header = "  ".join(f"{f'top {w}':>6}" for w in widths)
    lines = ["token trees: P(target's token in the draft's top w), first position",
             f"  {'category':<14}  {header}"]
    for name, curve in curves.items():
        lines.append(f"  {name:<14}  " + "  ".join(f"{top_w_hit(curve, w):>6.3f}" for w in widths))
    return lines


def top_w_hit(curve: CategoryAcceptance, width: int) -> float:
    """E over the first position's confidence bins of min(1, Σ_{r≤w} P(target picks candidate r)),
    each bin at its centre."""
    edges = np.asarray(curve.confidence_bin_edges)
    centres = bin_centres(edges)
    chance = np.asarray(curve.accept_given_confidence, dtype=float).copy()
    ranks = curve.ranks
    for rank in range(width - 1):
        assert ranks is not None
        probability = ranks.probability_share[rank] * (1.0 - centres)
        chance += np.asarray(ranks.match_given_probability[rank])[confidence_bins(probability, edges)]
    return float(np.asarray(curve.confidence_hist_by_position[0]) @ np.minimum(chance, 1.0))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def _spread(latency: Latency) -> str:
    spread, persistence = latency.step_time_spread, latency.step_time_persistence
    if not spread:
        return ""
    spells = f", slow spells of {1 / (1 - persistence):.1f} steps on average" if persistence > 0 else ""
    return (f", steps ×{spread[0]:.2f}-×{spread[-1]:.2f} their median from step to step "
            f"(mean ×{sum(spread) / len(spread):.2f}{spells})")
