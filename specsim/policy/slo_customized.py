"""`slo_customized`: AdaServe's per-request speculation from SLO slack, over token trees (or,
`tree=false`, one draft chain per request)."""

from __future__ import annotations

import math

import numpy as np

from specsim.policy.base import BatchView, Drafts, DraftTree, Policy, top_nodes
from specsim.policy.cost import tree_passes
from specsim.policy.estimates import path_confidence
from specsim.policy.params import changed_parameters


class SloCustomized(Policy):
    """Give each request the draft tokens it needs to stay within its own TPOT SLO; give the
    rest of the step's token budget to the tokens most likely to be accepted.

    Source: AdaServe (arXiv 2501.12162) and its public code (flexflow-serve, `request_manager.cc`,
    branch `specscheduler`). Per request i: SLOᵢ its TPOT target (`view.slo_tpot_s`, already ×
    scale), tᵢ the decode time elapsed since its first token, dᵢ the tokens it decoded (the first
    one included), Pᵢⱼ the path probability of its j-th most probable draft node (Π of the draft
    probabilities from the root), T the predicted step time:

        N      = max tokens per batch: `max_tokens`, else the scenario's step token budget
        depth  = clip(⌈N / B⌉, 1, max_depth)                  draft depth, adapts to load
        nᵢ     = clip((T·cf + tᵢ)/SLOᵢ − dᵢ, 1, depth + 1)    tokens needed this step, cf = 1.05
        budget = N − B                                       each request's own token is free
        SLO phase: in ascending nᵢ, request i takes its first mᵢ draft tokens, the fewest with
                   1 + Σ_{j≤mᵢ} Pᵢⱼ ≥ nᵢ (all if never), capped at ⌊1.2·N/B⌋ and at what is
                   left of the budget
        throughput phase: what is left of the budget goes to the remaining draft tokens with
                   the highest Pᵢⱼ across all requests (a global max-heap; they form prefixes
                   because P never increases along a path)

    A request with slack has nᵢ = 1, takes nothing in the SLO phase and competes only in the
    throughput phase; a request near its deadline is served first with its likeliest tokens.
    T is the predicted step of the whole plan (the step the engine runs: draft `depth` passes
    for all, verify, the prompt chunks beside it). Path probabilities are the raw draft
    confidences, as in the source.

    Trees (the default): each request drafts a beam tree `depth` deep — every node offers its
    draft's `width` most probable tokens, each depth keeps the `width` of highest path
    probability — and the two phases choose among all its nodes by Pᵢⱼ (any such prefix is
    closed under ancestors: P never rises along a path). A request may then verify up to
    width·depth nodes; the batch verifies at most N − B. `tree=false`: one chain per request
    (the form before trees, kept for ablation).

    Option `budget=knee` (the project's variant, the default before the published rule): N is
    derived every step from the cost model — the largest B·q (1 ≤ q ≤ max_depth + 1) whose
    verify time is within `knee` of plain decoding's, T_verify(B, q) ≤ (1 + knee)·T_verify(B, 1),
    capped by the step budget — so speculation shrinks to depth 0 on a compute-bound batch; the
    SLO-phase cap is ⌊1.2·(N − B)/B⌋ and dᵢ leaves the first token out. knee = 0.5: on the
    default H100 profile a 10% knee gives depth 0 from B ≈ 140.
    """

    name = "slo_customized"

    def __init__(self, max_depth: int = 8, max_tokens: int = 0, budget: str = "fixed", knee: float = 0.5,
                 safety: float = 1.05, share_cap: float = 1.2, tree: bool = True, width: int = 4) -> None:
        if max_depth < 1:
            raise ValueError("max_depth must be ≥ 1")
        if max_tokens < 0:
            raise ValueError("max_tokens must be ≥ 0 (0: the scenario's step token budget)")
        if budget not in ("fixed", "knee"):
            raise ValueError(f"budget must be 'fixed' or 'knee', got {budget!r}")
        if knee < 0.0:
            raise ValueError("knee must be ≥ 0")
        if safety <= 0.0 or share_cap <= 0.0:
            raise ValueError("safety and share_cap must be > 0")
        if width < 1:
            raise ValueError("width must be ≥ 1")
        self.max_depth = max_depth
        self.max_tokens = max_tokens
        self.budget = budget
        self.knee = knee
        self.safety = safety
        self.share_cap = share_cap
        self.tree = tree
        self.width = width
        self.drafts_trees = tree
        self.tree_branching = width if tree else 1
        # a tree request may verify every node of its tree: the engine reserves KV room for it
        self.max_draft_tokens = max_depth * width if tree else max_depth
        self._budget_tokens = 0
        self._depth = 0

    def batch_tokens(self, view: BatchView) -> int:
        """N: the step's verify-token budget (all requests' tokens, the free ones included)."""
        batch = view.batch_size
        if self.max_tokens > 0:
            return min(self.max_tokens, view.max_batch_tokens)
        if self.budget == "fixed":
            return view.max_batch_tokens
        cost, context = view.cost, view.mean_context_tokens
        limit = (1.0 + self.knee) * cost.verify_pass_s(batch, 1.0, context)
        best = 1
        for q in range(2, self.max_depth + 2):
            if cost.verify_pass_s(batch, float(q), context) > limit:
                break
            best = q
        return min(batch * best, view.max_batch_tokens)

    def plan_draft(self, view: BatchView) -> np.ndarray:
        batch = view.batch_size
        tokens = self.batch_tokens(view)
        self._budget_tokens = tokens
        if self.budget == "fixed":
            depth = min(max(math.ceil(tokens / batch), 1), self.max_depth)
        else:
            depth = min(math.ceil(tokens / batch), self.max_depth) if tokens > batch else 0
        self._depth = depth
        if self.tree and depth > 0:
            # the engine reserves Σ budgets of the step's tokens: N − B in all, which the two
            # phases may then spread unevenly (a request takes up to its whole tree); a request's
            # budget also bounds its depth, so never below `depth`
            share = math.ceil(max(tokens - batch, 0) / batch)
            return np.full(batch, min(max(depth, share), depth * self.width), dtype=np.int64)
        return np.full(batch, depth, dtype=np.int64)

    def plan_tree(self, view: BatchView, budgets: np.ndarray) -> np.ndarray:
        return np.full((view.batch_size, self._depth), self.width, dtype=np.int64)

    def select_nodes(self, view: BatchView, tree: DraftTree, budgets: np.ndarray) -> np.ndarray:
        batch = view.batch_size
        lengths = tree.sizes
        budget = min(max(self._budget_tokens - batch, 0), int(budgets.sum()))
        if budget >= int(lengths.sum()):
            return tree.depths > 0
        if budget == 0:
            return np.zeros(tree.depths.shape, dtype=bool)
        order = tree.by_path()
        path = tree.path[np.arange(batch)[:, None], order]
        path = np.where(np.isnan(path), 0.0, path)  # padding: never wanted, past each request's size
        cost, context = view.cost, view.mean_context_tokens
        pass_rows, pass_tokens = tree_passes(tree.depth_counts)
        step_s = (cost.tree_draft_s(pass_rows, pass_tokens, context)
                  + cost.after_draft_s(budgets, budget, context))
        depth = int(tree.depths.max())
        granted = self._grant(view, path, lengths, budget, step_s, depth)
        return top_nodes(tree, granted, order)

    def needed_tokens(self, view: BatchView, step_s: float, depth: int) -> np.ndarray:
        """nᵢ = clip((T·cf + tᵢ)/SLOᵢ − dᵢ, 1, depth + 1)."""
        elapsed = view.now_s - view.first_token_s
        # the source counts every decoded token, the first included; the knee variant did not
        decoded = view.generated_tokens if self.budget == "fixed" else view.generated_tokens - 1
        need = (step_s * self.safety + elapsed) / view.slo_tpot_s - decoded
        return np.minimum(np.maximum(need, 1.0), depth + 1.0)

    def plan_verify(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        lengths = drafts.lengths
        batch = view.batch_size
        depth = int(lengths.max())
        budget = max(self._budget_tokens - batch, 0)
        if depth == 0 or budget == 0:
            return np.zeros(batch, dtype=np.int64)
        if budget >= int(lengths.sum()):
            return lengths  # both phases together grant every drafted token when all fit
        cost, context = view.cost, view.mean_context_tokens
        step_s = cost.draft_s(lengths, context) + cost.after_draft_s(lengths, budget, context)
        path = path_confidence(drafts.confidences[:, :depth])
        return self._grant(view, path, lengths, budget, step_s, depth)

    def _grant(self, view: BatchView, path: np.ndarray, lengths: np.ndarray, budget: int, step_s: float,
               depth: int) -> np.ndarray:
        """Draft tokens granted per request: path [B, N] the path probabilities of each request's
        candidates, most probable first (a chain's positions, a tree's nodes by P), lengths [B]
        how many it has; the SLO phase, then the throughput phase, within `budget`."""
        batch = view.batch_size
        need = self.needed_tokens(view, step_s, depth)
        emitted = 1.0 + np.cumsum(path, axis=1)  # expected tokens with the first j+1 verified
        enough = emitted >= need[:, None] - 1e-12
        first = np.where(enough.any(axis=1), enough.argmax(axis=1) + 1, path.shape[1])  # all if never
        taken = np.where(need > 1.0, first, 0)
        cap = int(self.share_cap * (self._budget_tokens if self.budget == "fixed" else budget) / batch)
        taken = np.minimum(np.minimum(taken, cap), lengths)
        # SLO phase, in ascending nᵢ (stable: ties keep row order), until the budget runs out
        order = np.argsort(need, kind="stable")
        before = np.cumsum(taken[order]) - taken[order]
        granted = np.zeros(batch, dtype=np.int64)
        granted[order] = np.minimum(np.maximum(budget - before, 0), taken[order])
        left = budget - int(granted.sum())
        if left > 0:
            granted += self._throughput_phase(path, lengths, granted, left)
        return granted

    @staticmethod
    def _throughput_phase(path: np.ndarray, lengths: np.ndarray, granted: np.ndarray,
                          left: int) -> np.ndarray:
        positions = np.arange(path.shape[1])[None, :]
        rows, columns = np.nonzero((positions >= granted[:, None]) & (positions < lengths[:, None]))
        if len(rows) == 0:
            return np.zeros(len(lengths), dtype=np.int64)
        values = path[rows, columns]
        order = np.lexsort((columns, -values))[:left]  # highest P first, earlier position on ties
        return np.bincount(rows[order], minlength=len(lengths))

    def parameters(self) -> dict[str, object]:
        return changed_parameters(self, {
            "max_depth": self.max_depth, "max_tokens": self.max_tokens, "budget": self.budget,
            "knee": self.knee, "safety": self.safety, "share_cap": self.share_cap, "tree": self.tree,
            "width": self.width,
        })
