"""Per-request KV caches for one model, as fixed slots of one preallocated tensor per layer.

Layout: `keys[layer]` / `values[layer]` are [slots, kv_heads, capacity, head_dim], one slot per
running request (max_batch_size slots); `lengths[s]` counts slot s's valid tokens. The engine
keeps slot s = decode row s of the scheduler's `DecodeBatch` (moving one request's cache when a
row is refilled), and prefilling requests in the slots above.

Rollback choice — *length cropping per slot*: a step writes every row's new tokens at positions
`lengths[s] + j`; after verification the engine only lowers `lengths[s]` to the accepted prefix.
Rejected entries stay in memory but are never seen again: attention uses a 4-D mask in which query
j of row s sees keys `p ≤ lengths[s] + j`, so anything past a row's length is invisible, and the
next step overwrites it. This needs no copying at all on rollback (unlike growing a shared
DynamicCache and compacting masked holes), and rows of different lengths share one batch without
left-padding. Keys past `max(lengths + new)` are not even read: the view handed to attention is
sliced to that length.

A forward runs over a `BatchCache`: a duck-typed transformers cache (`update(k, v, layer)` is all
the Llama-style models call when given a 4-D mask and `position_ids`). For the whole decode batch
(rows 0..B-1) it reads and writes the storage in place; for other slots (a partial draft pass,
prefill chunks) it writes new entries in place and returns a gathered copy.
"""

from __future__ import annotations

import torch


def head_dim(config) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def kv_heads(config) -> int:
    return int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)


class SlotKV:
    """One model's cache storage: `slots` requests × `capacity` tokens."""

    def __init__(self, config, slots: int, capacity: int, device: torch.device | str,
                 dtype: torch.dtype) -> None:
        layers = config.num_hidden_layers
        self.slots, self.capacity = slots, capacity
        shape = (slots, kv_heads(config), capacity, head_dim(config))
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers)]
        self.lengths = torch.zeros(slots, dtype=torch.long)  # on the CPU: read by Python every step
        self.device = torch.device(device)

    @staticmethod
    def bytes_needed(config, slots: int, capacity: int, dtype: torch.dtype) -> int:
        element = torch.empty(0, dtype=dtype).element_size()
        return 2 * config.num_hidden_layers * slots * kv_heads(config) * capacity * head_dim(config) * element

    # -- moving requests between slots ---------------------------------------------------------
    def load(self, slot: int, cache) -> None:
        """Copy a batch-1 transformers DynamicCache (a finished prefill) into `slot`."""
        length = cache.get_seq_length()
        for layer, stored in enumerate(cache.layers):
            self.keys[layer][slot, :, :length] = stored.keys[0]
            self.values[layer][slot, :, :length] = stored.values[0]
        self.lengths[slot] = length

    def move(self, sources: list[int], destinations: list[int]) -> None:
        """Move slots (any permutation-like set of moves: sources are read before any write)."""
        if not sources:
            return
        longest = int(self.lengths[sources].max())
        src = torch.tensor(sources, device=self.device)
        dst = torch.tensor(destinations, device=self.device)
        for tensors in (self.keys, self.values):
            for layer in tensors:
                layer[dst, :, :longest] = layer[src, :, :longest]  # advanced indexing copies first
        self.lengths[destinations] = self.lengths[sources].clone()

    # -- one forward ---------------------------------------------------------------------------
    def batch(self, rows: torch.Tensor | None, batch: int, new_tokens: torch.Tensor) -> BatchCache:
        """A cache for one forward over `rows` (None: rows 0..batch-1) feeding `new_tokens[i]`
        real tokens each (the input is right-padded to the longest)."""
        return BatchCache(self, rows, batch, new_tokens)


class BatchCache:
    """What the model sees as its KV cache (`cache`, formerly `past_key_values`) for one forward;
    also builds the inputs that go with it (positions and the 4-D mask)."""

    def __init__(self, kv: SlotKV, rows: torch.Tensor | None, batch: int, new_tokens: torch.Tensor) -> None:
        self.kv = kv
        self.rows = rows
        self.batch = batch
        lengths = kv.lengths[:batch] if rows is None else kv.lengths[rows]
        self.start = lengths  # [B] where each row's new tokens go
        self.new_tokens = new_tokens
        width = int(new_tokens.max())
        self.width = width
        end = int((lengths + new_tokens).max())
        if end + 1 > kv.capacity:
            raise RuntimeError(f"KV slot overflow: {end} tokens > capacity {kv.capacity - 1}")
        self.kv_length = end
        offsets = torch.arange(width)
        positions = lengths[:, None] + offsets[None, :]  # [B, W]
        # padded inputs write to the last column, a scratch column that no mask ever shows
        real = offsets[None, :] < new_tokens[:, None]
        write_at = torch.where(real, positions, torch.full_like(positions, kv.capacity - 1))
        device = kv.device
        self.position_ids = positions.to(device)
        self._write_at = write_at.to(device)
        keys = torch.arange(end)
        self.mask = (keys[None, None, :] <= positions[:, :, None])[:, None].to(device)  # [B, 1, W, L]
        self._row_index = (torch.arange(batch) if rows is None else rows).to(device)

    # the transformers cache protocol, as far as Llama-style models use it with a 4-D mask
    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        kv = self.kv
        row_index = self._row_index[:, None]
        keys, values = kv.keys[layer_idx], kv.values[layer_idx]
        # [B, H, W, D] → storage[row, :, position]: index with (row, position) pairs
        keys[row_index, :, self._write_at] = key_states.transpose(1, 2)
        values[row_index, :, self._write_at] = value_states.transpose(1, 2)
        if self.rows is None:
            return keys[: self.batch, :, : self.kv_length], values[: self.batch, :, : self.kv_length]
        rows = self._row_index
        return keys[rows, :, : self.kv_length], values[rows, :, : self.kv_length]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.kv_length - self.width

    def commit(self, kept: torch.Tensor) -> None:
        """Set each row's valid length to start + kept[i] (kept ≤ new tokens: the rollback)."""
        lengths = self.start + kept
        if self.rows is None:
            self.kv.lengths[: self.batch] = lengths
        else:
            self.kv.lengths[self.rows] = lengths
