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
from specsim.engine.tree import TreeBuilder
from specsim.policy.base import DraftTree


class TreeCache(BatchCache):
    """A forward over rows 0..B-1 writing each query at a given slot position, with given RoPE
    positions and a given visibility [B, W, L]; padded queries write to the scratch column."""

    def __init__(self, kv: SlotKV, write_at: np.ndarray, positions: np.ndarray, visible: np.ndarray) -> None:
        device = kv.device
        self.kv = kv
        self.rows = None
        self.batch = write_at.shape[0]
        self.width = write_at.shape[1]
        self.kv_length = visible.shape[2]
        if self.kv_length + 1 > kv.capacity:
            raise RuntimeError(f"KV slot overflow: {self.kv_length} tokens > capacity {kv.capacity - 1}")
        self.start = kv.lengths[: self.batch].clone()
        self.position_ids = torch.from_numpy(positions).to(device)
        self._write_at = torch.from_numpy(np.where(write_at >= 0, write_at, kv.capacity - 1)).to(device)
        self.mask = torch.from_numpy(visible)[:, None].to(device)
        self._row_index = torch.arange(self.batch, device=device)


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
        if widths.shape[1] == 0:  # nothing to draft: the draft model does not run
            self._tree, _ = TreeBuilder(batch).finish()
            self._tokens = np.zeros((batch, 0), dtype=np.int64)
            return self._tree
        lengths = kv.lengths[:batch].tolist()
        inputs, counts = right_padded([self.rows[i][lengths[i]:] for i in range(batch)])
        cache = kv.batch(None, batch, counts)
        logits = self._forward(self.draft_model, inputs, cache)
        cache.commit(counts)
        context = np.array([len(tokens) for tokens in self.rows], dtype=np.int64)  # all fed now
        last = logits[torch.arange(batch, device=self.device), (counts - 1).to(self.device)]
        probabilities, candidates = self._top(last, branching)  # [B, R] each
        builder = TreeBuilder(batch)
        node_tokens: list[np.ndarray] = []  # per depth [B, width]
        write_at: list[np.ndarray] = []  # per depth [B, width]: the node's draft-cache position
        ancestors: list[np.ndarray] = []  # per depth [B, width, depth]: write positions root → node
        for depth in range(widths.shape[1]):
            frontier_valid = builder.frontier_valid
            builder.expand(np.where(frontier_valid[:, :, None], probabilities.reshape(batch, -1, branching),
                                    np.nan), widths[:, depth])
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
            if depth + 1 == widths.shape[1] or not valid.any():
                break
            # feed this depth's nodes: they propose the next depth's candidates
            logits = self._tree_forward(self.draft_model, kv, node_tokens[-1], positions, lineage, context,
                                        context + depth)
            probabilities, candidates = self._top(logits.reshape(batch * chosen.shape[1], -1), branching)
            probabilities = np.where(valid.reshape(-1)[:, None], probabilities, np.nan)
        kv.lengths[:batch] = torch.from_numpy(context)  # the nodes were scratch
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
                      visible_before: np.ndarray, position: np.ndarray) -> torch.Tensor:
        """One forward of tree nodes [B, W] (write_at −1: padding) at RoPE position `position[i]`;
        each sees the keys before `visible_before[i]` and its lineage's positions. Logits [B, W, V]."""
        width = tokens.shape[1]
        length = int(max(write_at.max() + 1, visible_before.max()))
        keys = np.arange(length)
        visible = np.repeat(keys[None, None, :] < visible_before[:, None, None], width, axis=1)
        for step in range(lineage.shape[2]):
            at = lineage[:, :, step]
            visible |= (keys[None, None, :] == at[:, :, None]) & (at[:, :, None] >= 0)
        visible &= (write_at >= 0)[:, :, None] | (keys[None, None, :] == 0)  # padding: some key, unused
        positions = np.repeat(position[:, None], width, axis=1)
        cache = TreeCache(kv, write_at, positions, visible)
        inputs = torch.from_numpy(np.where(write_at >= 0, tokens, 0))
        return self._forward(model, inputs, cache)

    # -- verification --------------------------------------------------------------------------
    def verify_tree(self, selected: np.ndarray) -> np.ndarray:
        start = self.clock.now()
        tree = self._tree
        assert tree is not None
        kv = self.target_kv
        batch = len(self.rows)
        target_lengths = kv.lengths[:batch].numpy().copy()
        pending = [self.rows[i][target_lengths[i]:] for i in range(batch)]
        chosen = [np.flatnonzero(selected[i]) for i in range(batch)]  # breadth first: tree order
        width = max(len(p) + len(c) for p, c in zip(pending, chosen, strict=True))
        tokens = np.zeros((batch, width), dtype=np.int64)
        write_at = np.full((batch, width), -1, dtype=np.int64)
        positions = np.zeros((batch, width), dtype=np.int64)
        length = int(max(target_lengths[i] + len(pending[i]) + len(chosen[i]) for i in range(batch)))
        keys = np.arange(length)
        visible = np.zeros((batch, width, length), dtype=bool)
        slot_of_node: list[dict[int, int]] = []
        for i in range(batch):
            base, count = int(target_lengths[i]), len(pending[i])
            tokens[i, :count] = pending[i]
            write_at[i, :count] = base + np.arange(count)
            positions[i, :count] = base + np.arange(count)
            visible[i, :count] = keys[None, :] <= (base + np.arange(count))[:, None]
            here: dict[int, int] = {}
            for j, node in enumerate(chosen[i].tolist()):
                column = count + j
                here[node] = base + column
                tokens[i, column] = self._tokens[i, node]
                write_at[i, column] = base + column
                positions[i, column] = base + count - 1 + int(tree.depths[i, node])
                visible[i, column, : base + count] = True
                walk = node
                while walk >= 0:
                    visible[i, column, here[walk]] = True
                    walk = int(tree.parents[i, walk])
            slot_of_node.append(here)
        cache = TreeCache(kv, write_at, positions, visible)
        logits = self._forward(self.target_model, torch.from_numpy(tokens), cache)
        choice = logits.argmax(dim=-1).cpu().numpy()  # [B, W]: the target's token after each query
        accepted = np.zeros(batch, dtype=np.int64)
        sources, destinations, rows_moved = [], [], []
        for i in range(batch):
            base, count = int(target_lengths[i]), len(pending[i])
            here = slot_of_node[i]
            wanted = int(choice[i, count - 1])
            parent = -1
            path: list[int] = []
            while True:
                child = next((node for node in chosen[i].tolist() if tree.parents[i, node] == parent
                              and self._tokens[i, node] == wanted), None)
                if child is None:
                    break
                path.append(child)
                parent = child
                wanted = int(choice[i, here[child] - base])
            for step, node in enumerate(path):
                rows_moved.append(i)
                sources.append(here[node])
                destinations.append(base + count + step)
            self.rows[i].extend(int(self._tokens[i, node]) for node in path)
            self.rows[i].append(wanted)
            accepted[i] = len(path)
            kv.lengths[i] = base + count + len(path)
        if sources:
            rows_t = torch.tensor(rows_moved, device=self.device)
            source_t = torch.tensor(sources, device=self.device)
            destination_t = torch.tensor(destinations, device=self.device)
            for tensors in (kv.keys, kv.values):
                for layer in tensors:
                    layer[rows_t, :, destination_t] = layer[rows_t, :, source_t]  # gathers first
        self.verify_s += self.clock.now() - start
        return accepted

    def _forward(self, model, inputs: torch.Tensor, cache) -> torch.Tensor:
        output = self.clock.forward(model, input_ids=inputs.to(self.device), **with_cache(model, cache),
                                    attention_mask=cache.mask, position_ids=cache.position_ids,
                                    use_cache=True)
        return output.logits
