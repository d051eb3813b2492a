"""The prefix cache reuses whole blocks of a cached chain, never a prompt's last token, keeps
what running requests use, and evicts the least recently used tails first."""

from __future__ import annotations

import numpy as np

from specsim.engine.prefix_cache import PrefixCache
from specsim.workload.prefixes import PrefixTree, prompt_pool


def two_prompts_on_one_system_prompt() -> PrefixCache:
    # node 0: a 100-token system prompt; nodes 1, 2: two 300-token prompts that start with it
    tree = PrefixTree(parent=np.array([-1, 0, 0]), tokens=np.array([100, 300, 300]))
    return PrefixCache(tree, block_tokens=16)


def test_a_hit_is_the_deepest_cached_prefix_in_whole_blocks() -> None:
    cache = two_prompts_on_one_system_prompt()
    assert cache.lookup(1, 300) == (-1, 0)
    assert cache.insert(1) == 96 + 192  # the system prompt's 6 blocks and the prompt's 12 more
    assert cache.lookup(2, 300) == (0, 96)  # the other prompt shares the system prompt's blocks
    # the same prompt again: everything but the block holding its last token (recomputed for logits)
    assert cache.lookup(1, 300) == (1, 288)
    assert cache.lookup(1, 289) == (1, 288) and cache.lookup(1, 288) == (1, 272)


def test_pinned_chains_stay_and_eviction_takes_least_recent_tails_first() -> None:
    cache = two_prompts_on_one_system_prompt()
    cache.insert(1)
    cache.insert(2)
    assert cache.total_tokens == 96 + 192 + 192
    cache.pin(1)
    assert cache.evictable_tokens() == 192  # only prompt 2's own blocks
    cache.evict(10_000)
    assert cache.lookup(2, 300) == (0, 96) and cache.lookup(1, 300) == (1, 288)
    cache.unpin(1)
    cache.evict(1)  # one node goes: the tail (prompt 1), never the system prompt under it
    assert cache.lookup(1, 300) == (0, 96)
    cache.evict(10_000)
    assert cache.total_tokens == 0 and cache.lookup(1, 300) == (-1, 0)


def test_a_pool_sends_every_prompt_once_per_round_with_its_system_prompt() -> None:
    pool = prompt_pool(count=25, groups=2, prompts_per_group=5, system_prompt_tokens=100,
                       pooled_lengths=np.arange(200, 210), rng=np.random.default_rng(3))
    assert len(pool.tree) == 12
    assert pool.tree.parent[:2].tolist() == [-1, -1] and set(pool.tree.parent[2:].tolist()) == {0, 1}
    first_round = pool.prefix[:10]
    assert sorted(first_round.tolist()) == list(range(2, 12))  # each prompt once, shuffled
    assert (pool.prefix[10:20] == first_round).all()  # then again in the same order
    assert (pool.prompt_tokens == pool.tree.tokens[pool.prefix]).all()
