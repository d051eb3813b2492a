"""Model architectures shipped as config files, and the sizes a roofline needs from them.

A built-in architecture is a transformers config (Llama- or Qwen2-style decoder) plus a line
saying where its numbers come from. `calibrate/` instantiates them with random weights
(latency does not depend on weight values); the roofline reads their byte and FLOP counts.
A local checkpoint directory (holding `config.json`) is accepted wherever a name is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specsim.errors import SpecsimError

ARCHITECTURE_DIR = Path(__file__).parent

DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    source: str
    config: dict[str, Any]
    # an EAGLE-3 head (Li et al. 2025, arXiv 2503.01840) rather than a stand-alone model: one
    # decoder layer of the target's width over [token embedding; a projection of the target's
    # hidden states from this many of its layers] — 0 for an ordinary draft model
    eagle_feature_layers: int = 0

    @property
    def head_dim(self) -> int:
        return int(self.config.get("head_dim") or self.config["hidden_size"] // self.heads)

    @property
    def heads(self) -> int:
        return int(self.config["num_attention_heads"])

    @property
    def kv_heads(self) -> int:
        return int(self.config.get("num_key_value_heads") or self.heads)

    @property
    def layers(self) -> int:
        return int(self.config["num_hidden_layers"])

    @property
    def hidden(self) -> int:
        return int(self.config["hidden_size"])

    @property
    def vocab(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def tied_embeddings(self) -> bool:
        return bool(self.config.get("tie_word_embeddings", False))

    def parameter_count(self) -> int:
        """Weights of the decoder, embedding and head (counted once when tied)."""
        hidden, inter = self.hidden, int(self.config["intermediate_size"])
        q_width, kv_width = self.heads * self.head_dim, self.kv_heads * self.head_dim
        attention = hidden * q_width + 2 * hidden * kv_width + q_width * hidden
        if self.config.get("model_type") == "qwen2":
            attention += q_width + 2 * kv_width  # Qwen2 has biases on q, k and v
        per_layer = attention + 3 * hidden * inter + 2 * hidden
        embedding = self.vocab * hidden
        head = 0 if self.tied_embeddings else self.vocab * hidden
        eagle = 0
        if self.eagle_feature_layers:
            # the features' projection to one hidden vector, and q, k, v reading two vectors
            eagle = self.eagle_feature_layers * hidden * hidden + hidden * (q_width + 2 * kv_width)
        return self.layers * per_layer + embedding + head + hidden + eagle

    def weight_bytes_read_per_forward(self, dtype: str) -> int:
        """Bytes a forward pass streams from memory: every weight but the embedding table,
        of which only the looked-up rows are read (the head is read in full, even when tied)."""
        embedding = self.vocab * self.hidden
        streamed = self.parameter_count() - embedding
        if self.tied_embeddings:
            streamed += embedding
        return streamed * dtype_bytes(dtype)

    def kv_bytes_per_token(self, dtype: str, tensor_parallel: int = 1) -> int:
        """Bytes of KV cache one token takes on one GPU of `tensor_parallel` (KV heads split
        evenly, or one per GPU, replicated, when there are fewer heads than GPUs)."""
        heads_per_gpu = max(self.kv_heads // tensor_parallel, 1)
        return 2 * self.layers * heads_per_gpu * self.head_dim * dtype_bytes(dtype)

    def check_tensor_parallel(self, gpus: int) -> None:
        """vLLM's rule: query heads split evenly over the GPUs; KV heads too, or replicated when
        the GPUs are a multiple of them."""
        if gpus < 1:
            raise SpecsimError(f"--tensor-parallel {gpus}: must be at least 1")
        if self.heads % gpus:
            raise SpecsimError(f"--tensor-parallel {gpus}: {self.name} has {self.heads} attention heads, "
                               f"which {gpus} GPUs cannot split evenly")
        if self.kv_heads % gpus and gpus % self.kv_heads:
            raise SpecsimError(f"--tensor-parallel {gpus}: {self.name} has {self.kv_heads} KV heads, which "
                               f"{gpus} GPUs can neither split evenly nor replicate")

    def flops_per_token(self, context_tokens: float) -> float:
        """Forward FLOPs for one token at a given context: 2 per weight multiply-add plus
        attention's QK^T and AV over the context."""
        embedding = self.vocab * self.hidden
        matmul_weights = self.parameter_count() - embedding + (embedding if self.tied_embeddings else 0)
        attention = 4 * self.layers * self.heads * self.head_dim * context_tokens
        return 2.0 * matmul_weights + attention


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise SpecsimError(f"unknown dtype {dtype!r}; expected one of {sorted(DTYPE_BYTES)}") from None


def builtin_names() -> list[str]:
    return sorted(path.stem for path in ARCHITECTURE_DIR.glob("*.json"))


def load_architecture(name_or_path: str | Path) -> Architecture:
    """A built-in name (`llama2-7b`) or a local checkpoint directory holding `config.json`."""
    path = Path(name_or_path)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.exists():
            raise SpecsimError(f"{path}: not a model folder (no config.json)")
        config = _read_json(config_file)
        return Architecture(path.name, f"checkpoint at {path}", str(path), config)
    builtin = ARCHITECTURE_DIR / f"{name_or_path}.json"
    if not builtin.exists():
        raise SpecsimError(
            f"unknown model {str(name_or_path)!r}: not a folder and not a built-in architecture "
            f"({', '.join(builtin_names())})"
        )
    document = _read_json(builtin)
    return Architecture(document["name"], document["description"], document["source"],
                        document["config"], int(document.get("eagle_feature_layers", 0)))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SpecsimError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
