"""A machine-speed probe: the median time of one fixed forward (the target decoding one token for
one request against a 64-token cache), taken in under a second.

`specsim validate` takes it right after the calibration and right before every real run, so a
drift of the machine's speed between the two (a shared machine's neighbours) is measured, not
guessed: the ratio real/calibration is the step-time error a perfect simulator would show.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from calibrate.kv import decode_inputs, random_cache
from realrun.models import load_model

CONTEXT_TOKENS = 64
REPEATS = 15


def make_probe(target: str | Path, device: str = "cpu", dtype: str | None = None,
               repeats: int = REPEATS) -> Callable[[], float]:
    """Load the target once; the returned callable times the reference forward (seconds)."""
    kind = device.split(":")[0]
    loaded = load_model(target, "--target", kind, dtype or ("float32" if kind == "cpu" else "bfloat16"))
    model = loaded.model
    parameter = next(model.parameters())

    @torch.inference_mode()
    def probe() -> float:
        cache = random_cache(model, 1, CONTEXT_TOKENS, parameter.dtype, parameter.device)
        ids, mask, positions = decode_inputs(1, 1, CONTEXT_TOKENS, model.config.vocab_size, parameter.device)
        times = []
        for index in range(repeats + 2):
            begin = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                  use_cache=True)
            if kind == "cuda":
                torch.cuda.synchronize()
            if index >= 2:  # two untimed warm-up calls
                times.append(time.perf_counter() - begin)
            cache.crop(-1)
        return statistics.median(times)

    return probe
