"""Loading the target/draft pair onto one device (checkpoint folders or built-in architecture
names, through calibrate's loader — the same models calibration measured)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from specsim.errors import SpecsimError


@dataclass
class ModelPair:
    target: Any  # a transformers causal LM, eval mode
    draft: Any | None  # None: plain decoding only (policy `none`)
    tokenizer: Any | None
    device: torch.device
    dtype: torch.dtype
    names: tuple[str, str | None]

    @property
    def vocab_size(self) -> int:
        return int(self.target.config.vocab_size)


def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise SpecsimError(f"--device {device}: expected cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecsimError(f"--device {device}: torch sees no CUDA device here; use --device cpu")
    return torch.device(device)


def load_pair(target: str | Path, draft: str | Path | None, device: str, load_draft: bool,
              dtype: str | None = None, seed: int = 0) -> ModelPair:
    from transformers.utils import logging

    from calibrate.models import load_model

    logging.disable_progress_bar()  # the run has its own progress line; loading bars would mix with it
    torch_device = resolve_device(device)
    dtype = dtype or ("float32" if torch_device.type == "cpu" else "bfloat16")
    target_model = load_model(target, "--target", device, dtype, seed)
    draft_model = None
    if load_draft:
        if draft is None:
            raise SpecsimError("--draft is required: the policy drafts (only 'none' runs without one)")
        draft_model = load_model(draft, "--draft", device, dtype, seed + 1)
        vocab_t = target_model.model.config.vocab_size
        vocab_d = draft_model.model.config.vocab_size
        if vocab_t != vocab_d:
            raise SpecsimError(f"--draft {draft}: vocabulary of {vocab_d} tokens, the target has {vocab_t}; "
                               "speculative decoding needs a shared tokenizer")
    return ModelPair(
        target=target_model.model, draft=draft_model.model if draft_model else None,
        tokenizer=target_model.tokenizer, device=torch_device, dtype=target_model.model.dtype,
        names=(target_model.name, draft_model.name if draft_model else None),
    )
