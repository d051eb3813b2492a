"""The real/simulated speed ratios between a real run and its replay, on hand-made step tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from specsim.results import RunResult
from specsim.validate.speed import speed_ratios

COLUMNS = ["batch_size", "accepted", "prefill_tokens", "draft_s", "verify_s", "prefill_s"]


def run_with_steps(rows: list[tuple[int, int, int, float, float, float]]) -> RunResult:
    """rows: (batch_size, accepted, prefill_tokens, draft_s, verify_s, prefill_s)."""
    return RunResult(requests=pd.DataFrame(), steps=pd.DataFrame(rows, columns=COLUMNS), summary={})


def test_decode_per_decoded_token_and_prefill_per_prompt_token() -> None:
    # real: 0.026 s of decode forwards for 2 + 2 + 1 + 1 = 6 tokens, 0.004 s of prefill for 40 tokens;
    # sim: 0.010 s for 4 tokens, 0.008 s of prefill for 40 tokens
    real = run_with_steps([(2, 2, 0, 0.004, 0.010, 0.0), (1, 1, 40, 0.002, 0.010, 0.004)])
    sim = run_with_steps([(2, 0, 0, 0.0, 0.006, 0.0), (2, 0, 40, 0.0, 0.004, 0.008)])
    speeds = speed_ratios(real, sim)
    assert speeds.decode == pytest.approx((0.026 / 6) / (0.010 / 4))
    assert speeds.prefill == pytest.approx(0.5)
    assert speeds.usable and speeds.prefill_or_decode() == pytest.approx(0.5)


def test_nothing_decoded_or_prefilled_gives_nan() -> None:
    idle = run_with_steps([(0, 0, 30, 0.0, 0.0, 0.01)])
    busy = run_with_steps([(1, 0, 0, 0.0, 0.01, 0.0)])
    assert math.isnan(speed_ratios(idle, busy).decode) and math.isnan(speed_ratios(busy, idle).decode)
    assert not speed_ratios(idle, busy).usable
    # no prefill in either run: the decode ratio stands in for it
    same = speed_ratios(busy, busy)
    assert math.isnan(same.prefill) and same.prefill_or_decode() == 1.0
