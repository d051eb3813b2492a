"""A profile whose forwards run `factor` times slower (or faster) — prefills by their own factor
when given: the same hardware at a different speed. `specsim validate` uses it to ask how far the
simulator would be from a real run had the profile been measured at the speed the machine actually
ran at (a shared machine drifts). Host overheads are kept: they are Python time, not forwards.
A fused engine (`engine.composition: fused`) prices a step's decode rows and prompt chunks in one
forward, so its forwards all take `factor`: its peaks are divided by it and its fixed costs per
forward multiplied.
"""

from __future__ import annotations

from specsim.profile.schema import LatencyFit, Profile
from specsim.profile.schema_engine import Engine


def scale_forwards(profile: Profile, factor: float, prefill_factor: float | None = None) -> Profile:
    prefill_factor = factor if prefill_factor is None else prefill_factor
    for value in (factor, prefill_factor):
        if not value > 0:
            raise ValueError(f"speed factor must be > 0, got {value}")
    latency = profile.latency
    grids = {}
    for name, scale in (("draft_step", factor), ("verify", factor), ("draft_first_pass", factor),
                        ("prefill_target", prefill_factor), ("prefill_draft", prefill_factor)):
        grid = getattr(latency, name)
        if grid is not None:  # draft_first_pass is optional
            grids[name] = grid.model_copy(update={"time_s": _scaled(grid.time_s, scale),
                                                  "fit": _scaled_fit(grid.fit, scale)})
    speeds = f"forwards ×{factor:.3g}"
    if prefill_factor != factor:
        speeds += f", prefills ×{prefill_factor:.3g}"
    return profile.model_copy(update={
        "name": f"{profile.name} ({speeds})",
        "latency": latency.model_copy(update=grids),
        "engine": _scaled_engine(profile.engine, factor),
    })


def _scaled_engine(engine: Engine | None, factor: float) -> Engine | None:
    if engine is None or engine.roofline is None:
        return engine
    roof = engine.roofline
    models = {name: getattr(roof, name).model_copy(
        update={"forward_overhead_s": getattr(roof, name).forward_overhead_s * factor})
        for name in ("target", "draft")}
    roof = roof.model_copy(update={"memory_bandwidth_bytes_per_s": roof.memory_bandwidth_bytes_per_s / factor,
                                   "peak_flops_per_s": roof.peak_flops_per_s / factor, **models})
    return engine.model_copy(update={"roofline": roof, "target_forward_s": engine.target_forward_s * factor,
                                     "draft_forward_s": engine.draft_forward_s * factor})


def _scaled(values, factor: float):
    if isinstance(values, list):
        return [_scaled(value, factor) for value in values]
    return values * factor


def _scaled_fit(fit: LatencyFit, factor: float) -> LatencyFit:
    # time ≈ Σ coefficient·feature: scaling every coefficient scales every prediction
    return fit.model_copy(update={"coefficients": [c * factor for c in fit.coefficients]})
