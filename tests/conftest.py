"""Fixtures for the test packages that run real models (calibrate, realrun): the tiny real-weight
pair, built once and cached by content across sessions, and its two models. torch is imported
inside them, so the simulator's tests never load it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("SPECSIM_TEST_CACHE", Path.home() / ".cache" / "specsim-tests"))


@pytest.fixture(scope="session")
def tiny_pair() -> tuple[Path, Path, Path]:
    from calibrate.tiny_pair import make_tiny_pair

    out = CACHE / "tiny-pair"
    target_dir, draft_dir = make_tiny_pair(out)  # content-keyed: instant after the first session
    return out, target_dir, draft_dir


@pytest.fixture(scope="session")
def tiny_models(tiny_pair):
    import torch
    from transformers import AutoModelForCausalLM

    _, target_dir, draft_dir = tiny_pair
    target = AutoModelForCausalLM.from_pretrained(target_dir, dtype=torch.float32).eval()
    draft = AutoModelForCausalLM.from_pretrained(draft_dir, dtype=torch.float32).eval()
    return target, draft
