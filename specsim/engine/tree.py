"""Growing a batch of draft trees depth by depth, and following a target's choices down one — the
same in both worlds: the simulator feeds sampled candidate probabilities, the real engine the
draft model's top tokens (DraftTree's layout: specsim/policy/base.py)."""

from __future__ import annotations

import numpy as np

from specsim.errors import SpecsimError
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
        (an invalid frontier node's are ignored, NaN or not); keep [B]: how many to keep per
        request at this depth."""
        batch, frontier, branching = candidates.shape
        path = (self.frontier_path[:, :, None] * candidates).reshape(batch, -1)
        usable = self.frontier_valid.repeat(branching, axis=1)  # [B, F·R], each node's R in a row
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
        # per column: its depth, its depth's branching, where its parent's depth starts (−1 at
        # depth 1: the root's single frontier node is candidate group 0, so parent = −1), and
        # where its depth's candidates start in the concatenation
        depth_of: list[int] = []
        branching_of: list[int] = []
        parent_start: list[int] = []
        candidate_start: list[int] = []
        column = candidate = 0
        previous_start = -1
        for depth, (part, branching) in enumerate(zip(self._chosen, self._branching, strict=True)):
            width = part.shape[1]
            depth_of += [depth + 1] * width
            branching_of += [branching] * width
            parent_start += [previous_start] * width
            candidate_start += [candidate] * width
            previous_start, column = column, column + width
            candidate += self._candidates[depth].shape[1]
        meta = np.array([depth_of, branching_of, parent_start, candidate_start], dtype=np.int64)
        chosen = np.concatenate(self._chosen, axis=1)
        valid = np.concatenate(self._valid, axis=1)
        parents = chosen // meta[1] + meta[2]
        ranks = chosen % meta[1] + 1
        rows = self._rows
        probabilities = np.concatenate(self._candidates, axis=1)[rows, chosen + meta[3]]
        paths = np.concatenate(self._paths, axis=1)
        depths = meta[0][None, :].repeat(batch, axis=0)
        sizes = valid.sum(axis=1)
        if valid.all():  # every request kept every column: already packed
            columns = np.arange(column, dtype=np.int64)[None, :].repeat(batch, axis=0)
            return DraftTree(parents, depths, ranks, probabilities, paths, sizes), columns
        width = int(sizes.max())
        columns = np.argsort(~valid, axis=1, kind="stable")[:, :width]  # valid nodes first, in order
        packed = np.cumsum(valid, axis=1) - 1  # a column's packed index, to renumber parents
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
    from_node = at_node[np.arange(len(parents))[:, None], np.maximum(parents, 0)]
    return np.where(parents == -1, at_root[:, None], from_node)


def accepted_path(tree: DraftTree, passing: np.ndarray) -> np.ndarray:
    """The accepted path under greedy verification, [B, depth]: at each level the node it went
    through (−1 past its end) — from the root down through the nodes `passing` marks (a selected
    node holding the target's choice at its parent), as long as each one's parent was reached.
    Under greedy at most one child of a node can pass, so the reached nodes form one path, and
    in breadth-first order they come root to leaf. Its length is `(path >= 0).sum(axis=1)`."""
    batch, nodes = tree.parents.shape
    depth = int(tree.depths.max()) if tree.depths.size else 0
    path = np.full((batch, max(depth, 1)), -1, dtype=np.int64)
    if not passing.any():
        return path
    levels = int(tree.depths[passing].max())
    # column 0 is the root, always reached; node n is column n + 1 (padding's parent −2: the root,
    # harmless as padding never passes)
    reached = np.zeros((batch, nodes + 1), dtype=bool)
    reached[:, 0] = True
    parent_column = np.maximum(tree.parents, -1) + 1
    rows = np.arange(batch)[:, None]
    for _ in range(levels):  # each round reaches one level deeper
        reached[:, 1:] = passing & reached[rows, parent_column]
    on_path = reached[:, 1:]
    order = np.argsort(~on_path, axis=1, kind="stable")[:, :levels]
    path[:, :levels] = np.where(np.arange(levels)[None, :] < on_path.sum(axis=1)[:, None], order, -1)
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
    parent_chosen = selected[np.arange(len(parents))[:, None], np.maximum(parents, 0)]
    if (has_parent & ~parent_chosen).any():
        raise ValueError(f"{label()}: select_nodes chose a node without its parent")
    counts = selected.sum(axis=1)
    if (counts > most_nodes).any():
        raise ValueError(f"{label()}: select_nodes chose more than max_draft_tokens ({most_nodes}) "
                         "nodes of a request")
    if int(counts.sum()) > int(budgets.sum()):
        raise ValueError(f"{label()}: select_nodes chose more nodes than the step's budgets hold")
    return selected


def refuse_unsupported_trees(source: str, label: str, sampling: bool, synthetic: bool) -> None:
    """Trees are verified greedily, each node against the target's own choice — in both worlds;
    what they cannot run with is refused by name (the scenario's file and field)."""
    if synthetic:
        raise SpecsimError(f"{source}: acceptance: synthetic acceptance draws an accepted count for a "
                           f"sequence; policy {label!r} drafts token trees (use a sequence policy)")
    if sampling:
        raise SpecsimError(f"{source}: decoding: sampling: policy {label!r} drafts token trees, which are "
                           "verified greedily only (multi-candidate rejection sampling is not modelled); "
                           "use greedy decoding or a sequence policy")
