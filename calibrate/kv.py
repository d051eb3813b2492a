"""transformers DynamicCache helpers (5.x caches): the acceptance measurement and the
transient-memory check. The latency grids use realrun's slot cache (calibrate/latency.py)."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from realrun.kv import head_dim, kv_heads


def new_cache(model) -> DynamicCache:
    """An empty dynamic cache, the engine's kind (layers typed from the config where supported)."""
    try:
        return DynamicCache(config=model.config)
    except TypeError:  # a transformers without the config argument
        return DynamicCache()


def random_cache(model, batch: int, context_tokens: int, dtype: torch.dtype, device: torch.device
                 ) -> DynamicCache:
    """A cache holding `context_tokens` random keys and values per request. Latency does not
    depend on the values, and filling it this way skips a prefill of batch × context tokens."""
    config = model.config
    cache = new_cache(model)
    shape = (batch, kv_heads(config), context_tokens, head_dim(config))
    for layer in range(config.num_hidden_layers):
        keys = torch.randn(shape, dtype=dtype, device=device)
        values = torch.randn(shape, dtype=dtype, device=device)
        cache.update(keys, values, layer)
    return cache


def decode_inputs(batch: int, new_tokens: int, context: int, vocab: int, device: str):
    """A decode input against a `random_cache`: new tokens, a 2-D mask over cache + new tokens,
    explicit positions."""
    ids = torch.randint(0, vocab, (batch, new_tokens), device=device)
    mask = torch.ones(batch, context + new_tokens, dtype=torch.long, device=device)
    if context > 1:
        mask[:, 0] = 0  # the hole a batched engine always has somewhere
    positions = torch.arange(context, context + new_tokens, device=device).expand(batch, new_tokens)
    return ids, mask, positions
