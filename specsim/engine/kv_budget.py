"""A replica's KV cache, counted in tokens: what each running request holds alone — its prefill
reservation while it prefills, its context once it decodes, less what the prefix cache shares —
plus the prefix cache's blocks (`prefix_cache.py`). Room is made by evicting cached prefixes no
running request holds; only then does a request wait or get preempted."""

from __future__ import annotations

from specsim.engine.batch import RequestState
from specsim.engine.prefix_cache import PrefixCache


class KvBudget:
    def __init__(self, capacity_tokens: int, prefix_cache: PrefixCache | None) -> None:
        self.capacity_tokens = capacity_tokens
        self.cache = prefix_cache
        self.own_tokens = 0  # prefill reservations + decoding contexts, less what is shared

    def cached_tokens(self) -> int:
        return self.cache.total_tokens if self.cache is not None else 0

    def make_room(self, tokens: int) -> bool:
        """Whether `tokens` more fit, evicting unpinned cached prefixes if that is what it takes."""
        over = self.own_tokens + self.cached_tokens() + tokens - self.capacity_tokens
        if over <= 0:
            return True
        if self.cache is None or self.cache.evictable_tokens() < over:
            return False
        self.cache.evict(over)
        return True

    def admit(self, request: RequestState, lookahead_tokens: int) -> bool:
        """Reserve the request's prefill beyond its cached prefix (and the running requests'
        lookahead); False, with nothing changed, when it does not fit."""
        cache = self.cache
        node, hit = -1, 0
        if cache is not None and request.prefix >= 0:
            node, hit = cache.lookup(request.prefix, request.prompt_tokens)
            if node >= 0:
                cache.pin(node)  # before making room: the hit must not be evicted
        new_tokens = request.prefill_tokens - hit
        if not self.make_room(new_tokens + lookahead_tokens):
            if node >= 0:
                cache.unpin(node)  # type: ignore[union-attr]
            return False
        request.prefilled = hit
        request.cached_prompt_tokens = hit
        request.shared_tokens = hit
        request.pinned_node = node
        self.own_tokens += new_tokens
        return True

    def end_prefill(self, request: RequestState) -> None:
        """The prompt is in (before its first token is counted): the reservation goes, the
        prompt's full blocks join the prefix cache, held by the request."""
        self.own_tokens -= request.prefill_tokens - request.shared_tokens
        cache = self.cache
        if cache is not None and request.prefix >= 0:
            request.shared_tokens += cache.insert(request.prefix)
            cache.pin(request.prefix)
            if request.pinned_node >= 0:
                cache.unpin(request.pinned_node)
            request.pinned_node = request.prefix

    def hold_decoding(self, request: RequestState) -> None:
        """The request decodes on: it holds its context's own KV."""
        self.own_tokens += request.own_kv_tokens

    def drop_prefilling(self, request: RequestState) -> None:
        """A prefilling request leaves (preempted): its reservation goes."""
        self.own_tokens -= request.prefill_tokens - request.shared_tokens
        self.release(request)

    def drop_decoding(self, request: RequestState) -> None:
        """A decoding request leaves (finished or preempted): its own KV goes."""
        self.own_tokens -= request.own_kv_tokens
        self.release(request)

    def release(self, request: RequestState) -> None:
        """The request no longer holds its cached prefix."""
        if request.pinned_node >= 0:
            assert self.cache is not None
            self.cache.unpin(request.pinned_node)
        request.pinned_node = -1
        request.shared_tokens = 0

    def slack_tokens(self, lookahead_tokens: int) -> int:
        """Tokens the decoding rows may still add before room must be made."""
        return self.capacity_tokens - self.own_tokens - self.cached_tokens() - lookahead_tokens
