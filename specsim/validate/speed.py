"""How fast the machine really ran compared with the profile, from a real run and the simulator's
replay of it.

A shared machine's speed drifts (on the project's 2-core VM the same forward took 8 ms at one
moment and 14 ms twenty minutes later), and a profile is one moment of it. To tell that apart
from a wrong model, validate reruns the simulator with the real run's acceptance replayed *and*
every forward scaled by the ratio measured here; what error is left there comes from the rest of
the model — step composition, batching, admission, overheads, the latency surface's shape.
"""

from __future__ import annotations

import math

from specsim.results import RunResult


def forward_time_ratio(real: RunResult, sim: RunResult) -> float:
    """Forward seconds (draft + verify + prefill) per decoded token in the real run over the same
    in `sim` — the simulator on the same requests with the real run's acceptance replayed, so both
    did nearly the same work. NaN when either run decoded nothing."""
    per_token = []
    for run in (real, sim):
        steps = run.steps
        forward_s = float((steps["draft_s"] + steps["verify_s"] + steps["prefill_s"]).sum())
        # each decoding request gets its accepted drafts and one more token per step
        tokens = int(steps["batch_size"].sum() + steps["accepted"].sum())
        per_token.append(forward_s / tokens if tokens else math.nan)
    real_s, sim_s = per_token
    if math.isnan(real_s) or math.isnan(sim_s) or sim_s <= 0:
        return math.nan
    return real_s / sim_s
