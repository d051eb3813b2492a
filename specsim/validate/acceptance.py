"""A real run's measured acceptance, per request, in the form the simulator can replay.

Choice: one per-token acceptance probability per request, α̂ᵢ = Aᵢ / (Aᵢ + Rᵢ), where Aᵢ is the
request's accepted draft tokens and Rᵢ its rejecting steps (`rejected_steps`: steps whose
verification rejected a draft token). Under the i.i.d. model the simulator samples (each verified
position accepted with α until the first rejection) the likelihood of a request's steps is
α^A (1 − α)^R whatever the draft lengths were, so α̂ is its maximum-likelihood estimate — and it
is defined for adaptive policies whose k changes step to step. Per request, not per category:
it keeps the request-to-request spread the real pair shows (the profile's latent λ). Requests that
never verified a draft token (k = 0 throughout, e.g. policy `none`) get NaN: the replay samples
them from the profile.

Why not replay the exact per-step outcomes: contract-3 tables do not hold them, and a sim whose
policy drafts a different k than the real one did at that step could not use them anyway.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def measured_acceptance(requests: pd.DataFrame) -> np.ndarray:
    """α̂ per request (row order = request_id order), NaN where nothing was verified.

    Tables without `rejected_steps` (written before it existed) fall back to accepted / verified,
    which underestimates α when drafts are longer than one token (tokens after a rejection are
    verified but cannot be accepted)."""
    table = requests.sort_values("request_id")
    accepted = table["accepted_tokens"].to_numpy(dtype=np.float64)
    verified = table["verified_tokens"].to_numpy(dtype=np.float64)
    if "rejected_steps" in table:
        trials = accepted + table["rejected_steps"].to_numpy(dtype=np.float64)
    else:
        trials = verified
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(trials > 0, accepted / trials, np.nan)
