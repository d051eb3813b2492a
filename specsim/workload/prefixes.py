"""Prompts that share a beginning: a tree of prefixes, and the generator that makes one.

A node is a prefix shared by several prompts — a system prompt, or a whole prompt sent again —
with its length from the start of the prompt and its parent (the shorter prefix it extends).
A request names its deepest node; an engine with prefix caching reuses the KV of whatever
part of that chain another request already computed (`specsim/engine/prefix_cache.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PrefixTree:
    parent: np.ndarray  # int64 per node: the node it extends, -1 at a root
    tokens: np.ndarray  # int64 per node: its length from the start of the prompt

    def __len__(self) -> int:
        return len(self.parent)


@dataclass(frozen=True)
class PromptPool:
    """What a pool of shared prompts gives each request."""

    prompt_tokens: np.ndarray  # int64 per request
    prefix: np.ndarray  # int64 per request: its prompt's node in `tree`
    tree: PrefixTree


def prompt_pool(count: int, groups: int, prompts_per_group: int, system_prompt_tokens: int,
                pooled_lengths: np.ndarray, rng: np.random.Generator) -> PromptPool:
    """inference-perf's shared_prefix generator: `groups` system prompts of `system_prompt_tokens`
    tokens, each followed by `prompts_per_group` questions (`pooled_lengths`: each pooled prompt's
    whole length, system prompt included); the pool is shuffled once and request n sends pooled
    prompt n mod pool size, so every prompt is sent again once the pool has gone round."""
    pool = groups * prompts_per_group
    lengths = np.maximum(np.asarray(pooled_lengths, dtype=np.int64), system_prompt_tokens + 1)
    group_of_prompt = np.repeat(np.arange(groups, dtype=np.int64), prompts_per_group)
    if system_prompt_tokens > 0:
        parent = np.concatenate([np.full(groups, -1, dtype=np.int64), group_of_prompt])
        tokens = np.concatenate([np.full(groups, system_prompt_tokens, dtype=np.int64), lengths])
        first_prompt = groups
    else:
        parent, tokens, first_prompt = np.full(pool, -1, dtype=np.int64), lengths, 0
    order = rng.permutation(pool)
    sent = order[np.arange(count) % pool]
    return PromptPool(prompt_tokens=lengths[sent], prefix=first_prompt + sent,
                      tree=PrefixTree(parent=parent, tokens=tokens))
