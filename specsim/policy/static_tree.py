"""`static_tree`: the fixed-shape token tree engines ship for EAGLE/Medusa-style drafts."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy


class StaticTree(Policy):
    """Every request drafts the same tree every step: `depth` levels of at most `width` nodes,
    each node offering its draft's `width` most probable tokens and each level keeping the
    `width` of highest path probability (a beam; SpecInfer's and EAGLE-2's top-k expansion with a
    fixed shape), and verifies its `nodes` most probable nodes by path probability (default: all
    width·depth) — SGLang's EAGLE settings `speculative_eagle_topk` = width,
    `speculative_num_steps` = depth, `speculative_num_draft_tokens` = nodes + 1 (it counts the
    root).

    The baseline AdaServe's per-request trees are measured against; `width=1` is `fixed(k=depth)`
    drafted as a tree.
    """

    name = "static_tree"
    drafts_trees = True

    def __init__(self, width: int = 2, depth: int = 4, nodes: int = 0) -> None:
        if width < 1 or depth < 1:
            raise ValueError("width and depth must be ≥ 1")
        if not 0 <= nodes <= width * depth:
            raise ValueError(f"nodes must be in [0, width·depth = {width * depth}] (0: all of them)")
        self.width = width
        self.depth = depth
        self.nodes = nodes or width * depth
        self.tree_branching = width
        # the draft's tree entries (width·depth) need room too, past what is verified
        self.max_draft_tokens = width * depth

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return np.full(view.batch_size, self.nodes, dtype=np.int64)

    def plan_tree(self, view: BatchView, budgets: np.ndarray) -> np.ndarray:
        return np.full((view.batch_size, self.depth), self.width, dtype=np.int64)

    def parameters(self) -> dict[str, object]:
        parameters: dict[str, object] = {"width": self.width, "depth": self.depth}
        if self.nodes != self.width * self.depth:
            parameters["nodes"] = self.nodes
        return parameters
