"""Prefix caching, as vLLM V1 does it by default: the KV of a prompt's full blocks stays in the
cache after its request is done, and a later request whose prompt starts the same way skips
computing those tokens.

The cache holds nodes of the workload's prefix tree (`specsim/workload/prefixes.py`), each with
its own blocks (its tokens beyond its parent's, in whole `block_tokens` blocks). Running requests
pin the chain they use; unpinned nodes stay cached — counted in the KV budget — until room is
needed, then go least recently used first, a node only after its cached children (the blocks at
a prompt's tail go first, as in vLLM). A prompt never hits in full: its last token is computed
again for the logits, so a hit stops at the last full block before it (vLLM V1's rule).
"""

from __future__ import annotations

from collections import OrderedDict

from specsim.workload.prefixes import PrefixTree


class PrefixCache:
    def __init__(self, tree: PrefixTree, block_tokens: int) -> None:
        self.block_tokens = block_tokens
        self.parent: list[int] = tree.parent.tolist()
        # each node's tokens in whole blocks, and the blocks it adds to its parent's
        self.tokens = [int(t) // block_tokens * block_tokens for t in tree.tokens.tolist()]
        self.own = [tokens - (self.tokens[parent] if parent >= 0 else 0)
                    for tokens, parent in zip(self.tokens, self.parent, strict=True)]
        self.lru: OrderedDict[int, None] = OrderedDict()  # cached nodes, least recently used first
        self.pins = [0] * len(self.parent)
        self.cached_children = [0] * len(self.parent)
        self.total_tokens = 0  # KV of every cached node
        self.pinned_tokens = 0  # of which pinned by a running request

    def chain(self, node: int) -> list[int]:
        """The node and its ancestors, root first."""
        nodes = []
        while node >= 0:
            nodes.append(node)
            node = self.parent[node]
        return nodes[::-1]

    def lookup(self, node: int, prompt_tokens: int) -> tuple[int, int]:
        """(the deepest cached node of `node`'s chain or -1, the prompt tokens it saves)."""
        while node >= 0 and node not in self.lru:
            node = self.parent[node]
        if node < 0:
            return -1, 0
        limit = (prompt_tokens - 1) // self.block_tokens * self.block_tokens
        return node, min(self.tokens[node], limit)

    def pin(self, node: int) -> None:
        """A request uses the chain up to `node` (every node of it cached): keep it."""
        for member in self.chain(node):
            if self.pins[member] == 0:
                self.pinned_tokens += self.own[member]
            self.pins[member] += 1
            self.lru.move_to_end(member)

    def unpin(self, node: int) -> None:
        for member in self.chain(node):
            self.pins[member] -= 1
            if self.pins[member] == 0:
                self.pinned_tokens -= self.own[member]

    def insert(self, node: int) -> int:
        """A request computed its prompt up to `node`: cache the chain's missing nodes. Returns
        how many of the request's own tokens the cache took over."""
        taken = 0
        for member in self.chain(node):
            if member in self.lru:
                continue
            self.lru[member] = None
            self.total_tokens += self.own[member]
            taken += self.own[member]
            parent = self.parent[member]
            if parent >= 0:
                self.cached_children[parent] += 1
        return taken

    def evictable_tokens(self) -> int:
        return self.total_tokens - self.pinned_tokens

    def evict(self, tokens: int) -> None:
        """Free at least `tokens` (or all that is unpinned), least recently used leaves first."""
        freed = 0
        while freed < tokens:
            victim = next((node for node in self.lru
                           if self.pins[node] == 0 and self.cached_children[node] == 0), None)
            if victim is None:
                return
            del self.lru[victim]
            self.total_tokens -= self.own[victim]
            freed += self.own[victim]
            parent = self.parent[victim]
            if parent >= 0:
                self.cached_children[parent] -= 1
