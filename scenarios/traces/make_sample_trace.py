"""Write sample_burstgpt.csv: a synthetic, bursty 10-minute chat trace in BurstGPT's columns.

Deterministic (fixed seed) and independent of specsim's own generators, so the sample does not
change when they do. Run: python scenarios/traces/make_sample_trace.py [output.csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

SEED = 20240501
DURATION_S = 600.0
# Calm traffic broken by short bursts: (requests per second, mean dwell in seconds).
CALM = (0.4, 40.0)
BURST = (3.0, 8.0)
FAILURE_SHARE = 0.02  # BurstGPT logs failed requests with 0 response tokens


def make_rows(rng: np.random.Generator) -> list[list[object]]:
    times: list[np.ndarray] = []
    now_s, state = 0.0, CALM
    while now_s < DURATION_S:  # one iteration per dwell, not per request
        rate, mean_dwell_s = state
        dwell_s = min(rng.exponential(mean_dwell_s), DURATION_S - now_s)
        times.append(now_s + np.sort(rng.random(rng.poisson(rate * dwell_s))) * dwell_s)
        now_s += dwell_s
        state = BURST if state is CALM else CALM
    arrival_s = np.round(np.concatenate(times), 3)
    count = arrival_s.size
    # chat-like lengths: prompts carry conversation history (median ~600), answers ~220 tokens
    request_tokens = np.clip(np.rint(600 * np.exp(1.0 * rng.standard_normal(count))), 8, 8000).astype(int)
    response_tokens = np.clip(np.rint(220 * np.exp(0.8 * rng.standard_normal(count))), 1, 2000).astype(int)
    response_tokens[rng.random(count) < FAILURE_SHARE] = 0
    model = np.where(rng.random(count) < 0.8, "ChatGPT", "GPT-4")
    log_type = np.where(rng.random(count) < 0.7, "Conversation log", "API log")
    return [
        [
            f"{arrival_s[i]:.3f}",
            model[i],
            request_tokens[i],
            response_tokens[i],
            request_tokens[i] + response_tokens[i],
            log_type[i],
        ]
        for i in range(count)
    ]


def main(output: Path) -> None:
    rows = make_rows(np.random.default_rng(SEED))
    with output.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type"]
        )
        writer.writerows(rows)
    failed = sum(1 for row in rows if row[3] == 0)
    print(f"wrote {len(rows)} requests ({failed} failed) to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sample_burstgpt.csv"))
