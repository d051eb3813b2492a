"""One calibration of the tiny pair (tests/conftest.py), built once per session."""

from __future__ import annotations

import pytest
import torch

from calibrate import Grid, calibrate
from specsim.profile import save_profile

torch.set_num_threads(1)  # 2 shared cores: with a neighbour busy, 2 threads ran forwards 5-50x slower

# a reduced grid: a few seconds on a CPU, still two values on every axis; the tiny pair's points take
# milliseconds, so 15 samples over 3 passes are cheap and keep medians steady on a busy machine
SMALL_GRID = Grid(batch_sizes=(1, 2, 4), context_tokens=(32, 128), tokens_per_request=(1, 2, 5),
                  prefill_batch_sizes=(1, 2), prefill_prompt_tokens=(8, 32), warmup=2, repeats=15,
                  budget_s=0.5, passes=3)


@pytest.fixture(scope="session")
def tiny_profile_path(tiny_pair, tmp_path_factory):
    out, target_dir, draft_dir = tiny_pair
    profile = calibrate(target_dir, draft_dir, gpu="cpu", grid=SMALL_GRID, dataset=out / "prompts.jsonl",
                        max_draft_tokens=4, prompts_per_category=2, new_tokens=24, threads=1, progress=False,
                        policies=["adaptive", "fixed:k=2"])
    return save_profile(profile, tmp_path_factory.mktemp("profiles") / "tiny.json")
