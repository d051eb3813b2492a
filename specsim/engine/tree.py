"""Growing a batch of draft trees depth by depth, and following a target's choices down one — the
same in both worlds: the simulator feeds sampled candidate probabilities, the real engine the
draft model's top tokens (DraftTree's layout: specsim/policy/base.py)."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import DraftTree, Policy


class TreeBuilder:
    """Beam growth: at each depth every frontier node offers its candidates (their draft
    probabilities, most probable first), and each request keeps the `keep[i]` candidates of
    highest path probability (ties: earlier parent, then better rank). Nodes are numbered in the
    order they are made ("columns"): a depth's columns follow the previous depth's, the same for
    every request, so a column's depth and its parent's column follow from its candidate index
    alone. `finish` packs each request's nodes to the front."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self._rows = np.arange(batch)[:, None]  # row index for [B, n] fancy indexing
        # per depth: the chosen candidates' flat indices [B, width], all candidates [B, F·R], the
        # chosen nodes' paths and validity [B, width], the branching R
        self._chosen: list[np.ndarray] = []
        self._candidates: list[np.ndarray] = []
        self._paths: list[np.ndarray] = []
        self._valid: list[np.ndarray] = []
        self._branching: list[int] = []
        self.columns = 0
        # the nodes the next depth grows from (the root first): their paths and validity
        self.frontier_path = np.ones((batch, 1))
        self.frontier_valid = np.ones((batch, 1), dtype=bool)
        self.chosen = np.zeros((batch, 0), dtype=np.int64)
        self.chosen_valid = np.zeros((batch, 0), dtype=bool)

    @property
    def depth(self) -> int:
        return len(self._chosen)

    def expand(self, candidates: np.ndarray, keep: np.ndarray) -> None:
        """candidates [B, F, R]: the draft probability of each frontier node's r-th candidate
        (NaN: none; an invalid frontier node's are ignored); keep [B]: how many to keep per
        request at this depth."""
        batch, frontier, branching = candidates.shape
        path = (self.frontier_path[:, :, None] * candidates).reshape(batch, -1)
        usable = (self.frontier_valid[:, :, None] & ~np.isnan(candidates)).reshape(batch, -1)
        width = min(int(keep.max()) if batch else 0, frontier * branching)
        # ascending −path is descending path; the unusable last
        chosen = np.argsort(np.where(usable, -path, np.inf), axis=1, kind="stable")[:, :width]
        rows = self._rows
        valid = (np.arange(width)[None, :] < keep[:, None]) & usable[rows, chosen]
        paths = path[rows, chosen]
        self._chosen.append(chosen)
        self._candidates.append(candidates.reshape(batch, -1))
        self._paths.append(paths)
        self._valid.append(valid)
        self._branching.append(branching)
        # the columns just made, as indices into the flattened [F·R] candidates (the real engine
        # reads their tokens from its top-k this way)
        self.chosen, self.chosen_valid = chosen, valid
        self.frontier_path = paths  # the invalid ones are masked by frontier_valid
        self.frontier_valid = valid
        self.columns += width

    def finish(self) -> tuple[DraftTree, np.ndarray]:
        """The tree, and [B, N] each node's column (for per-column data kept by the caller)."""
        batch = self.batch
        if not self._chosen:
            empty = np.zeros((batch, 0), dtype=np.int64)
            return DraftTree(empty, empty, empty, np.zeros((batch, 0)), np.zeros((batch, 0)),
                             np.zeros(batch, dtype=np.int64)), empty
        widths = [part.shape[1] for part in self._chosen]
        starts = np.cumsum([0, *widths])
        # per column: its depth, its depth's branching, where its parent's depth starts (−1 at
        # depth 1: the root's single frontier node is candidate group 0, so parent = −1), and
        # where its depth's candidates start in the concatenation
        depth_of = np.repeat(np.arange(1, len(widths) + 1), widths)
        branching_of = np.repeat(self._branching, widths)
        parent_start = np.repeat([-1, *starts[:-2]], widths)
        candidate_sizes = [part.shape[1] for part in self._candidates]
        candidate_start = np.repeat(np.cumsum([0, *candidate_sizes[:-1]]), widths)
        chosen = np.concatenate(self._chosen, axis=1)
        valid = np.concatenate(self._valid, axis=1)
        parents = chosen // branching_of + parent_start
        ranks = chosen % branching_of + 1
        probabilities = np.take_along_axis(np.concatenate(self._candidates, axis=1), chosen + candidate_start,
                                           axis=1)
        paths = np.concatenate(self._paths, axis=1)
        depths = np.broadcast_to(depth_of, valid.shape)
        sizes = valid.sum(axis=1)
        if valid.all():  # every request kept every column: already packed
            columns = np.broadcast_to(np.arange(valid.shape[1]), valid.shape)
            return DraftTree(parents, depths.copy(), ranks, probabilities, paths, sizes), columns
        width = int(sizes.max())
        columns = np.argsort(~valid, axis=1, kind="stable")[:, :width]  # valid nodes first, in order
        packed = np.cumsum(valid, axis=1) - 1  # a column's packed index, to renumber parents
        rows = self._rows
        parents = parents[rows, columns]
        parents = np.where(parents >= 0, packed[rows, np.maximum(parents, 0)], parents)
        keep = np.arange(width)[None, :] < sizes[:, None]
        tree = DraftTree(
            parents=np.where(keep, parents, -2),
            depths=np.where(keep, depths[rows, columns], 0),
            ranks=np.where(keep, ranks[rows, columns], 0),
            probabilities=np.where(keep, probabilities[rows, columns], np.nan),
            path=np.where(keep, paths[rows, columns], np.nan),
            sizes=sizes,
        )
        return tree, np.where(keep, columns, -1)


def at_parent(tree: DraftTree, at_root: np.ndarray, at_node: np.ndarray) -> np.ndarray:
    """[B, N]: for every node, the value its parent holds — `at_root[i]` for the root's children,
    `at_node[i, parent]` for the others (padding: anything)."""
    parents = tree.parents
    from_node = np.take_along_axis(at_node, np.maximum(parents, 0), axis=1)
    return np.where(parents == -1, at_root[:, None], from_node)


def accepted_path(tree: DraftTree, passing: np.ndarray) -> np.ndarray:
    """The accepted path under greedy verification, [B, depth]: at each level the node it went
    through (−1 past its end). From the root it moves to the child that `passing` marks — a
    selected node holding the target's choice at its parent; under greedy at most one child of a
    node can — until there is none. Its length is `(path >= 0).sum(axis=1)`."""
    batch = len(tree.sizes)
    depth = int(tree.depths.max()) if tree.depths.size else 0
    path = np.full((batch, max(depth, 1)), -1, dtype=np.int64)
    current = np.full(batch, -1, dtype=np.int64)
    alive = np.ones(batch, dtype=bool)
    for level in range(depth):
        match = passing & (tree.parents == current[:, None])
        alive &= match.any(axis=1)
        if not alive.any():
            break
        current = np.where(alive, match.argmax(axis=1), current)
        path[alive, level] = current[alive]
    return path


def check_selection(tree: DraftTree, selected: np.ndarray, budgets: np.ndarray, most_nodes: int,
                    policy: Policy) -> np.ndarray:
    """A policy's selection as the engine accepts it: inside the tree, closed under ancestors, at
    most `most_nodes` (the KV room reserved per request) for any request and Σ budgets (the
    step's tokens reserved) in all. Anything else is the policy's bug, said by name."""
    selected = np.asarray(selected, dtype=bool)
    label = policy.label  # called only to say whose bug it is
    if selected.shape != tree.parents.shape:
        raise ValueError(f"{label()}: select_nodes returned shape {selected.shape}, "
                         f"the tree is {tree.parents.shape}")
    if (selected & (tree.depths == 0)).any():
        raise ValueError(f"{label()}: select_nodes chose padding past a request's tree")
    parents = tree.parents
    has_parent = selected & (parents >= 0)
    parent_chosen = np.take_along_axis(selected, np.maximum(parents, 0), axis=1)
    if (has_parent & ~parent_chosen).any():
        raise ValueError(f"{label()}: select_nodes chose a node without its parent")
    counts = selected.sum(axis=1)
    if (counts > most_nodes).any():
        raise ValueError(f"{label()}: select_nodes chose more than max_draft_tokens ({most_nodes}) "
                         "nodes of a request")
    if int(counts.sum()) > int(budgets.sum()):
        raise ValueError(f"{label()}: select_nodes chose more nodes than the step's budgets hold")
    return selected
