"""A profile whose forwards all run `factor` times slower (or faster): the same hardware at a
different speed. `specsim validate` uses it to ask how far the simulator would be from a real run
had the profile been measured at the speed the machine actually ran at (a shared machine drifts).
Host overheads are kept: they are Python time, not forwards.
"""

from __future__ import annotations

from specsim.profile.schema import LatencyFit, Profile


def scale_forwards(profile: Profile, factor: float) -> Profile:
    if not factor > 0:
        raise ValueError(f"speed factor must be > 0, got {factor}")
    latency = profile.latency
    grids = {}
    for name in ("draft_step", "verify", "prefill_target", "prefill_draft"):
        grid = getattr(latency, name)
        grids[name] = grid.model_copy(update={"time_s": _scaled(grid.time_s, factor),
                                              "fit": _scaled_fit(grid.fit, factor)})
    return profile.model_copy(update={
        "name": f"{profile.name} (forwards ×{factor:.3g})",
        "latency": latency.model_copy(update=grids),
    })


def _scaled(values, factor: float):
    if isinstance(values, list):
        return [_scaled(value, factor) for value in values]
    return values * factor


def _scaled_fit(fit: LatencyFit, factor: float) -> LatencyFit:
    # time ≈ Σ coefficient·feature: scaling every coefficient scales every prediction
    return fit.model_copy(update={"coefficients": [c * factor for c in fit.coefficients]})
