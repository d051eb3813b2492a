"""The real `TreeBackend` (specsim.engine.speculation): token trees drafted and verified with
real models, greedy decoding.

Drafting: the first pass feeds what each row's draft cache lacks (as for sequences) and takes
the draft's `branching` most probable next tokens; every later pass feeds the frontier — the
nodes the beam kept at the depth before — in one forward, each node attending to the request's
context, its ancestors and itself (a 4-D tree mask; positions by depth), and takes each node's
top tokens. The tree's nodes are scratch in the draft cache: its length goes back to the context
after drafting, so the next step's first pass feeds the accepted tokens (the usual catch-up).

Verification: one target forward per step over [the row's pending tokens, its selected nodes
breadth first], nodes again under the tree mask. From the root, the path follows the selected
child whose token is the target's argmax at its parent; the target's argmax after the last
accepted node is the extra token, so the output is the target's own greedy decoding. The
accepted nodes' KV entries are copied down to sit right after the context, in path order, and
the cache's length covers them: the cache then holds what sequential decoding would have written.
"""

from __future__ import annotations

import numpy as np
import torch

from realrun.backend import right_padded
from realrun.clock import Clock
from realrun.kv import BatchCache, SlotKV
from realrun.models import with_cache
from specsim.engine.tree import TreeBuilder, accepted_path, at_parent
from specsim.policy.base import DraftTree


class TreeCache(BatchCache):
    """A forward over `rows` (None: rows 0..B-1) writing each query at a given slot position,
    with given RoPE positions and a given visibility [B, W, L], B the rows taken; padded queries
    write to the scratch column."""

    def __init__(self, kv: SlotKV, write_at: np.ndarray, positions: np.ndarray, visible: np.ndarray,
                 rows: np.ndarray | None = None) -> None:
        device = kv.device
        self.kv = kv
        self.batch = write_at.shape[0]
        self.rows = None if rows is None else torch.from_numpy(rows)
        self.width = write_at.shape[1]
        self.kv_length = visible.shape[2]
        if self.kv_length + 1 > kv.capacity:
            raise RuntimeError(f"KV slot overflow: {self.kv_length} tokens > capacity {kv.capacity - 1}")
        self.start = (kv.lengths[: self.batch] if self.rows is None else kv.lengths[self.rows]).clone()
        self.position_ids = torch.from_numpy(positions).to(device)
        self._write_at = torch.from_numpy(np.where(write_at >= 0, write_at, kv.capacity - 1)).to(device)
        self.mask = torch.from_numpy(visible)[:, None].to(device)
        self._row_index = (torch.arange(self.batch) if self.rows is None else self.rows).to(device)


class RealTrees:
    def __init__(self, target, draft, target_kv: SlotKV, draft_kv: SlotKV, clock: Clock) -> None:
        self.target_model, self.draft_model = target, draft
        self.target_kv, self.draft_kv = target_kv, draft_kv
        self.clock = clock
        self.device = target_kv.device
        self.rows: list[list[int]] = []
        self.draft_s = self.verify_s = 0.0
        self._tree: DraftTree | None = None
        self._tokens = np.zeros((0, 0), dtype=np.int64)  # [B, N] each node's token

    def begin(self, rows: list[list[int]]) -> None:
        self.rows = rows
        self.draft_s = self.verify_s = 0.0
        self._tree = None

    # -- drafting ------------------------------------------------------------------------------
    def draft_tree(self, widths: np.ndarray, branching: int) -> DraftTree:
        start = self.clock.now()
        kv = self.draft_kv
        batch = len(self.rows)
        # the first pass feeds what the draft caches of the rows with a tree lack (their accepted
        # path and the target's token since they last drafted); rows without one sit it out
        drafting = np.flatnonzero(widths[:, 0] > 0) if widths.shape[1] else np.zeros(0, dtype=np.int64)
        if len(drafting) == 0:  # no tree has a first node: the draft model does not run
            self._tree, _ = TreeBuilder(batch).finish()
            self._tokens = np.zeros((batch, 0), dtype=np.int64)
            return self._tree
        lengths = kv.lengths[:batch].tolist()
        inputs, counts = right_padded([self.rows[i][lengths[i]:] for i in drafting])
        every = len(drafting) == batch
        cache = kv.batch(None if every else torch.from_numpy(drafting), batch if every else len(drafting),
                         counts)
        logits = self._forward(self.draft_model, inputs, cache)
        cache.commit(counts)
        context = np.array([len(tokens) for tokens in self.rows], dtype=np.int64)  # fed, where drafting
        last = logits[torch.arange(len(drafting), device=self.device), (counts - 1).to(self.device)]
        top, top_tokens = self._top(last, branching)  # [drafting, R] each
        probabilities = np.full((batch, branching), np.nan)
        candidates = np.zeros((batch, branching), dtype=np.int64)
        probabilities[drafting], candidates[drafting] = top, top_tokens
        builder = TreeBuilder(batch)
        node_tokens: list[np.ndarray] = []  # per depth [B, width]
        write_at: list[np.ndarray] = []  # per depth [B, width]: the node's draft-cache position
        ancestors: list[np.ndarray] = []  # per depth [B, width, depth]: write positions root → node
        for depth in range(widths.shape[1]):
            builder.expand(probabilities.reshape(batch, -1, branching), widths[:, depth])
            chosen, valid = builder.chosen, builder.chosen_valid
            tokens = np.take_along_axis(candidates.reshape(batch, -1), chosen, axis=1)
            node_tokens.append(np.where(valid, tokens, 0))
            fed = sum(part.shape[1] for part in write_at)
            positions = np.where(valid, context[:, None] + fed + np.arange(chosen.shape[1])[None, :], -1)
            parent_slot = chosen // branching
            if depth == 0:
                lineage = positions[:, :, None]
            else:
                parents = np.take_along_axis(ancestors[-1], parent_slot[:, :, None], axis=1)
                lineage = np.concatenate([parents, positions[:, :, None]], axis=2)
            write_at.append(positions)
            ancestors.append(lineage)
            # feed this depth's nodes where the next depth grows: they propose its candidates (the
            # other rows sit the pass out, as the simulator prices it)
            growing = np.flatnonzero(valid.any(axis=1) & (widths[:, depth + 1] > 0)) \
                if depth + 1 < widths.shape[1] else np.zeros(0, dtype=np.int64)
            if len(growing) == 0:
                break
            logits = self._tree_forward(self.draft_model, kv, node_tokens[-1][growing], positions[growing],
                                        lineage[growing], context[growing], context[growing] + depth,
                                        None if len(growing) == batch else growing)
            top, top_tokens = self._top(logits.reshape(len(growing) * chosen.shape[1], -1), branching)
            probabilities = np.full((batch, chosen.shape[1], branching), np.nan)
            candidates = np.zeros((batch, chosen.shape[1], branching), dtype=np.int64)
            probabilities[growing] = top.reshape(len(growing), -1, branching)
            candidates[growing] = top_tokens.reshape(len(growing), -1, branching)
        kv.lengths[torch.from_numpy(drafting)] = torch.from_numpy(context[drafting])  # the nodes were scratch
        tree, columns = builder.finish()
        flat = np.concatenate(node_tokens, axis=1)
        self._tokens = np.where(columns >= 0, np.take_along_axis(flat, np.maximum(columns, 0), axis=1), -1)
        self._tree = tree
        self.draft_s += self.clock.now() - start
        return tree

    def _top(self, logits: torch.Tensor, branching: int) -> tuple[np.ndarray, np.ndarray]:
        probabilities = torch.softmax(logits.float(), dim=-1)
        top = probabilities.topk(branching, dim=-1)
        return top.values.double().cpu().numpy(), top.indices.cpu().numpy()

    def _tree_forward(self, model, kv: SlotKV, tokens: np.ndarray, write_at: np.ndarray, lineage: np.ndarray,
                      visible_before: np.ndarray, position: np.ndarray,
                      rows: np.ndarray | None = None) -> torch.Tensor:
        """One forward of tree nodes [B, W] (write_at −1: padding) of the cache's `rows` (None: all)
        at RoPE position `position[i]`; each sees the keys before `visible_before[i]` and its
        lineage's positions. Logits [B, W, V]."""
        width = tokens.shape[1]
        length = int(max(write_at.max() + 1, visible_before.max()))
        keys = np.arange(length)
        visible = np.repeat(keys[None, None, :] < visible_before[:, None, None], width, axis=1)
        for step in range(lineage.shape[2]):
            at = lineage[:, :, step]
            visible |= (keys[None, None, :] == at[:, :, None]) & (at[:, :, None] >= 0)
        visible &= (write_at >= 0)[:, :, None] | (keys[None, None, :] == 0)  # padding: some key, unused
        positions = np.repeat(position[:, None], width, axis=1)
        cache = TreeCache(kv, write_at, positions, visible, rows)
        inputs = torch.from_numpy(np.where(write_at >= 0, tokens, 0))
        return self._forward(model, inputs, cache)

    # -- verification --------------------------------------------------------------------------
    def verify_tree(self, selected: np.ndarray) -> np.ndarray:
        start = self.clock.now()
        tree = self._tree
        assert tree is not None
        kv = self.target_kv
        batch = len(self.rows)
        rows = np.arange(batch)
        base = kv.lengths[:batch].numpy().astype(np.int64)  # where each row's new tokens go
        pending = [self.rows[i][base[i]:] for i in range(batch)]  # usually just the last token
        count = np.array([len(tokens) for tokens in pending], dtype=np.int64)
        chosen = selected & (tree.depths > 0)
        # the query column of each selected node: after the pending tokens, breadth first
        column = np.where(chosen, count[:, None] + np.cumsum(chosen, axis=1) - 1, -1)
        totals = count + chosen.sum(axis=1)
        columns = np.arange(int(totals.max()))[None, :]
        write_at = np.where(columns < totals[:, None], base[:, None] + columns, -1)
        tokens = np.zeros(write_at.shape, dtype=np.int64)
        for i, feed in enumerate(pending):
            tokens[i, :len(feed)] = feed
        positions = base[:, None] + np.minimum(columns, count[:, None] - 1)
        node_rows, nodes = np.nonzero(chosen)
        node_columns = column[node_rows, nodes]
        tokens[node_rows, node_columns] = self._tokens[node_rows, nodes]
        positions[node_rows, node_columns] += tree.depths[node_rows, nodes]
        # pending tokens are causal; a node sees the context, the pending tokens and (below) its
        # ancestors and itself; padded queries see the context (some key, never read)
        keys = np.arange(int((base + totals).max()))
        last_seen = base[:, None] + np.minimum(columns, count[:, None] - 1)
        visible = keys[None, None, :] <= last_seen[:, :, None]
        walk = np.where(chosen, np.arange(chosen.shape[1])[None, :], -1)
        while (walk >= 0).any():
            r, n = np.nonzero(walk >= 0)
            visible[r, column[r, n], base[r] + column[r, walk[r, n]]] = True
            walk = np.where(walk >= 0, tree.parents[rows[:, None], np.maximum(walk, 0)], -1)
        cache = TreeCache(kv, write_at, positions, visible)
        logits = self._forward(self.target_model, torch.from_numpy(tokens), cache)
        choice = logits.argmax(dim=-1).cpu().numpy()  # [B, W]: the target's token after each query
        # a node passes when selected and its token is the target's choice at its parent
        at_node = np.take_along_axis(choice, np.maximum(column, 0), axis=1)  # padding: never read
        passing = chosen & (self._tokens == at_parent(tree, choice[rows, count - 1], at_node))
        path = accepted_path(tree, passing)
        accepted = (path >= 0).sum(axis=1)
        # the extra token: the target's choice after the last accepted node (or the pending tokens)
        after = count - 1
        went = accepted > 0
        after[went] = column[rows[went], path[rows[went], accepted[went] - 1]]
        wanted = choice[rows, after]
        moved_rows, steps = np.nonzero(path >= 0)
        if len(moved_rows):  # the accepted nodes' entries, down to sit right after the context
            sources = base[moved_rows] + column[moved_rows, path[moved_rows, steps]]
            destinations = base[moved_rows] + count[moved_rows] + steps
            rows_t = torch.from_numpy(moved_rows).to(self.device)
            source_t = torch.from_numpy(sources).to(self.device)
            destination_t = torch.from_numpy(destinations).to(self.device)
            for tensors in (kv.keys, kv.values):
                for layer in tensors:
                    layer[rows_t, :, destination_t] = layer[rows_t, :, source_t]  # gathers first
        kv.lengths[:batch] = torch.from_numpy(base + count + accepted)
        for i in range(batch):
            self.rows[i].extend(self._tokens[i, path[i, :accepted[i]]].tolist())
            self.rows[i].append(int(wanted[i]))
        self.verify_s += self.clock.now() - start
        return accepted

    def _forward(self, model, inputs: torch.Tensor, cache) -> torch.Tensor:
        output = self.clock.forward(model, input_ids=inputs.to(self.device), **with_cache(model, cache),
                                    attention_mask=cache.mask, position_ids=cache.position_ids,
                                    use_cache=True)
        return output.logits
