"""The simulator's stand-in for drafting and verifying token trees: each frontier node's
candidates and the target's choice among them are sampled from the profile, depth by depth."""

from __future__ import annotations

import numpy as np

from specsim.engine.batch import DecodeBatch
from specsim.engine.tree import TreeBuilder, accepted_path, at_parent
from specsim.policy.base import DraftTree
from specsim.profile.acceptance import AcceptanceModel
from specsim.profile.rank_acceptance import RankModel


class SampledTrees:
    """A `TreeBackend` (specsim.engine.speculation) for one replica.

    At every node it expands, the sequence model draws the top candidate's confidence and the
    chance the target picks it (with the request's latent, at the node's depth), the rank model
    the lower candidates'; one uniform draw then fixes which candidate, if any, the target
    picks there. `verify` follows those picks through the selected nodes. Under greedy the
    target picks one token, so at most one child of an accepted node can match.
    """

    def __init__(self, model: AcceptanceModel, ranks: RankModel, rng: np.random.Generator) -> None:
        self.model = model
        self.ranks = ranks
        self.rng = rng
        self._decode: DecodeBatch | None = None
        self._tree: DraftTree | None = None
        self._root_choice = np.empty(0, dtype=np.int64)
        self._node_choice = np.empty((0, 0), dtype=np.int64)

    def attach(self, decode: DecodeBatch) -> None:
        self._decode = decode

    def draft_tree(self, widths: np.ndarray, branching: int) -> DraftTree:
        decode = self._decode
        assert decode is not None
        batch = len(widths)
        category = decode.category[:batch]
        latent = decode.latent[:batch]
        builder = TreeBuilder(batch)
        depths = widths.shape[1]
        # every node that may expand, drawn at once: at depth d a request's frontier holds at most
        # one node (the root) at d = 0, then at most the widest it kept at the depth before
        slots = [1, *(int(width) for width in widths[:, :-1].max(axis=0))] if depths else []
        offsets = np.cumsum([0, *slots])
        rows = np.repeat(np.arange(batch), offsets[-1])
        position = np.repeat(np.arange(depths), slots)[None, :].repeat(batch, axis=0).ravel()
        top, top_match = self.model.sample_nodes(self.rng, category[rows], latent[rows], position)
        probabilities, match = self.ranks.candidates(category[rows], top, top_match)
        pick = (self.rng.random(len(rows))[:, None] >= np.cumsum(match, axis=1)).sum(axis=1) + 1
        pick[pick > branching] = 0  # past every candidate: the target chose another token
        probabilities = probabilities[:, :branching].reshape(batch, -1, branching)
        pick = pick.reshape(batch, -1)
        choices: list[np.ndarray] = []  # per depth: the target's pick at each frontier node [B, F]
        for depth in range(depths):
            frontier = builder.frontier_valid.shape[1]
            part = slice(offsets[depth], offsets[depth] + frontier)
            choices.append(pick[:, part])
            builder.expand(probabilities[:, part], widths[:, depth])
        tree, columns = builder.finish()
        # the picks by node: depth 0's single frontier node is the root, later frontiers are
        # the nodes of the depth before, by column (the deepest nodes expand nothing: 0)
        self._root_choice = choices[0][:, 0] if choices else np.zeros(batch, dtype=np.int64)
        by_column = np.zeros((batch, builder.columns + 1), dtype=np.int64)
        later = np.concatenate(choices[1:], axis=1) if len(choices) > 1 else by_column[:, :0]
        by_column[:, :later.shape[1]] = later
        self._node_choice = np.where(columns >= 0, by_column[np.arange(batch)[:, None], columns], 0)
        self._tree = tree
        return tree

    def verify_tree(self, selected: np.ndarray) -> np.ndarray:
        assert self._tree is not None
        return accepted_by_rank(self._tree, selected, self._root_choice, self._node_choice)


def accepted_by_rank(tree: DraftTree, selected: np.ndarray, root_pick: np.ndarray,
                     node_pick: np.ndarray) -> np.ndarray:
    """Accepted length per request when the target's pick at each node is a candidate's rank
    (`root_pick` [B], `node_pick` [B, N]; 0: none of them): a selected node passes when its rank
    is the pick at its parent."""
    pick = at_parent(tree, root_pick, node_pick)
    return (accepted_path(tree, selected & (tree.ranks == pick) & (pick > 0)) >= 0).sum(axis=1)
