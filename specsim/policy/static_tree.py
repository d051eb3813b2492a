"""`static_tree`: the fixed-shape token tree engines ship for EAGLE/Medusa-style drafts."""

from __future__ import annotations

import numpy as np

from specsim.policy.base import BatchView, Policy


class StaticTree(Policy):
    """Every request drafts the same tree every step and verifies all of it: `depth` levels
    of at most `width` nodes, each node offering its draft's `width` most probable tokens and
    each level keeping the `width` of highest path probability (a beam; SpecInfer's and
    EAGLE-2's top-k expansion with a fixed shape). Node budget width·depth per request.

    The baseline AdaServe's per-request trees are measured against; `width=1` is `fixed(k=depth)`
    drafted as a tree.
    """

    name = "static_tree"
    drafts_trees = True

    def __init__(self, width: int = 2, depth: int = 4) -> None:
        if width < 1 or depth < 1:
            raise ValueError("width and depth must be ≥ 1")
        self.width = width
        self.depth = depth
        self.tree_branching = width
        self.max_draft_tokens = width * depth

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return np.full(view.batch_size, self.width * self.depth, dtype=np.int64)

    def plan_tree(self, view: BatchView, budgets: np.ndarray) -> np.ndarray:
        return np.full((view.batch_size, self.depth), self.width, dtype=np.int64)

    def parameters(self) -> dict[str, object]:
        return {"width": self.width, "depth": self.depth}
