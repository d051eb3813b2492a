"""Loading models onto one device: a local checkpoint (real weights) or a built-in architecture
(random weights, latency only), and the target/draft pair the engine serves. Nothing is ever
downloaded. Calibration loads through here too, so it measures the very models the engine runs.

A random-weight 7B model must not take minutes to build: it is constructed directly on the target
device (`with torch.device(...)`), so the default initialisation runs as GPU kernels, not as
seven billion CPU random draws followed by a copy.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from specsim.architectures import Architecture, load_architecture
from specsim.errors import SpecsimError

TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
# the architecture parameters a profile records (the rest of a checkpoint's config is noise here)
RECORDED_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size",
                 "max_position_embeddings", "tie_word_embeddings")


def with_cache(model, cache) -> dict[str, Any]:
    """The forward's KV-cache keyword argument: `cache` where the model's forward takes it
    (transformers 5.24 renamed `past_key_values`, deprecated until its removal in 5.40), else
    `past_key_values` (transformers 5.17, the oldest this project supports)."""
    return {_cache_keyword(type(model)): cache}


@functools.cache
def _cache_keyword(model_class: type) -> str:
    forward = getattr(model_class, "forward", None)
    if forward is None:  # a wrapper that hands its inputs to a model: the installed transformers' name
        from transformers import LlamaForCausalLM

        forward = LlamaForCausalLM.forward
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


@dataclass
class LoadedModel:
    name: str
    model: Any  # a transformers causal LM, eval mode, on the device
    architecture: Architecture
    weights: Literal["real", "random"]
    dtype: str
    tokenizer: Any | None

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def weight_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())

    def recorded_architecture(self) -> dict[str, Any]:
        config = self.model.config.to_dict()
        return {key: config[key] for key in RECORDED_KEYS if config.get(key) is not None}


def weights_kind(name_or_dir: str | Path) -> Literal["real", "random"]:
    """`real` for a checkpoint folder with weights; a built-in name or a folder holding only
    config.json is instantiated with random weights."""
    path = Path(name_or_dir)
    if path.is_dir() and any((path / name).exists() for name in WEIGHT_FILES):
        return "real"
    return "random"


def resolve_model(name_or_dir: str | Path, flag: str) -> Architecture:
    """The architecture, or a one-line error naming the flag (torch is not needed here)."""
    try:
        return load_architecture(name_or_dir)
    except SpecsimError as error:
        raise SpecsimError(f"{flag}: {error}") from None


def load_model(name_or_dir: str | Path, flag: str, device: str, dtype: str, seed: int = 0) -> LoadedModel:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    architecture = resolve_model(name_or_dir, flag)
    torch_dtype = TORCH_DTYPES[dtype]
    kind = weights_kind(name_or_dir)
    tokenizer = None
    if kind == "real":
        path = Path(name_or_dir)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=torch_dtype, attn_implementation="sdpa",
                device_map=device if device != "cpu" else None,
            )
        except (OSError, ValueError) as error:
            raise SpecsimError(f"{flag} {path}: cannot load the checkpoint ({_first_line(error)})") from None
        if any((path / name).exists() for name in TOKENIZER_FILES):
            try:
                tokenizer = AutoTokenizer.from_pretrained(path)
            except (OSError, ValueError) as error:
                message = f"{flag} {path}: cannot load the tokenizer ({_first_line(error)})"
                raise SpecsimError(message) from None
    else:
        config_dict = dict(architecture.config)
        config = AutoConfig.for_model(config_dict.pop("model_type"), **config_dict)
        torch.manual_seed(seed)
        with torch.device(device):  # initialise where the model will live: seconds for 7B on a GPU
            model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype, attn_implementation="sdpa")
    model = model.to(device).eval()
    return LoadedModel(architecture.name, model, architecture, kind, dtype, tokenizer)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


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
