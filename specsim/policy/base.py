"""The Policy API (DESIGN.md contract 1): one object, two worlds.

At every engine step of one replica the engine asks the policy, in this order:

1. `plan_draft(view)` → k ≥ 0 per running request (0 = plain decoding this step);
2. `continue_drafting(view, drafts)` after each draft pass, *only if the policy overrides it*:
   which requests keep drafting (policies that stop on observed confidence: `threshold`,
   `adaptive`'s predict–execute–correct loop). Not in DESIGN.md's first draft of the contract:
   without it those policies would pay for draft passes whose tokens they then discard;
3. `plan_verify(view, drafts)` → how many drafted tokens per request go to verification;
4. `observe(outcome)` after verification.

Trees (contract 1, version 2; a policy with `drafts_trees = True`): `plan_draft` returns each
request's *node budget* — the most tree nodes it may verify, reserved in the step's token budget
and the KV cache exactly as a sequence's k — then

2'. `plan_tree(view, budgets)` → widths [B, D]: request i keeps at most widths[i, j] nodes at
    depth j + 1 (0 past its depth; depth ≤ budget). Each kept node offers its draft's
    `tree_branching` most probable tokens as candidates for the next depth, and the candidates
    with the highest path probability are kept (a beam per request);
3'. `select_nodes(view, tree, budgets)` → bool [B, N]: the nodes to verify, closed under
    ancestors, at most `max_draft_tokens` for a request (its KV room) and Σ budgets in all (the
    step's tokens). Default: each request's budget of nodes by path probability.

A sequence is a tree of width 1, so sequence policies are untouched: they never see a tree.
For a tree step the tables' and `StepOutcome`'s drafted / verified count nodes, accepted the
accepted path's length, and `confidences` holds each node's draft probability.

The simulator and the real engine build the same `BatchView`, `Drafts` and `StepOutcome`, so a
policy cannot tell which world it runs in. Everything is numpy arrays aligned with
`view.request_ids`, so a policy decides for the whole batch in a few vectorised operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from specsim.policy.cost import CostEstimator

# Columns of per-request scratch space a policy may use (see BatchView.memory).
MEMORY_SLOTS = 4


@dataclass(slots=True)
class BatchView:
    """What a policy may know at the start of a step: the decoding requests of one replica.

    Arrays are aligned with `request_ids` and must be treated as read-only, except `memory`.
    Nothing here reveals the future except `future_accepted`, which only the simulator fills
    and only for simulator-only policies (`oracle`).
    """

    now_s: float
    queue_length: int  # requests waiting for admission at this replica
    prefilling: int  # admitted requests still in prefill
    request_ids: np.ndarray  # int64
    context_tokens: np.ndarray  # tokens in the request's sequence (prompt + generated)
    generated_tokens: np.ndarray  # output tokens produced so far (≥ 1: prefill made the first)
    arrival_s: np.ndarray
    first_token_s: np.ndarray
    slo_ttft_s: np.ndarray  # effective targets: the scenario's target × scale
    slo_tpot_s: np.ndarray
    slo_scale: float
    drafted_tokens: np.ndarray  # cumulative per request
    verified_tokens: np.ndarray
    accepted_tokens: np.ndarray
    last_verified: np.ndarray  # previous step's counts; -1 before the first decode step
    last_accepted: np.ndarray
    memory: np.ndarray  # float64 [B, MEMORY_SLOTS], NaN for a new request; kept across steps
    max_batch_tokens: int  # the step's token budget (decode tokens k+1 each, plus prefill)
    mean_context_tokens: float
    cost: CostEstimator
    future_accepted: np.ndarray | None = None  # simulator-only: accepted prefix if K drafted

    @property
    def batch_size(self) -> int:
        return len(self.request_ids)


@dataclass(slots=True)
class Drafts:
    """The draft tokens so far: `confidences[i, j]` is the draft model's probability of the
    token it proposed at position j for request i; NaN at and past `lengths[i]`."""

    confidences: np.ndarray  # float64 [B, K]
    lengths: np.ndarray  # int64 [B]


@dataclass(slots=True)
class DraftTree:
    """Each request's draft tree, nodes breadth first (every parent before its children) and,
    within a depth, by falling path probability; arrays [B, N], padding past `sizes[i]`.

    The root is the request's last token (not a node): its children have parent −1."""

    parents: np.ndarray  # int64: the parent's node index, −1 = the root; −2 padding
    depths: np.ndarray  # int64: 1 for the root's children; 0 padding
    ranks: np.ndarray  # int64: 1 = its parent's most probable candidate; 0 padding
    probabilities: np.ndarray  # float64: draft probability of its token given its path; NaN padding
    path: np.ndarray  # float64: product of probabilities from the root; NaN padding
    sizes: np.ndarray  # int64 [B]: nodes per request
    # depth_counts, once asked (the policy and the step's price both ask)
    _depth_counts: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def depth_counts(self) -> np.ndarray:
        """[B, D]: nodes per request at each depth 1..D."""
        if self._depth_counts is None:
            batch = len(self.sizes)
            depth = int(self.depths.max()) if self.depths.size else 0
            flat = (np.arange(batch)[:, None] * (depth + 1) + self.depths).ravel()
            counts = np.bincount(flat, minlength=batch * (depth + 1)).reshape(batch, depth + 1)[:, 1:]
            self._depth_counts = counts
        return self._depth_counts

    def by_path(self) -> np.ndarray:
        """[B, N] node indices per request by falling path probability (ties: earlier node first),
        padding last. Any prefix of a row is closed under ancestors: a path never gains
        probability, and a parent comes before its children."""
        key = np.where(np.isnan(self.path), -np.inf, self.path)
        return np.argsort(-key, axis=1, kind="stable")


@dataclass(slots=True)
class StepOutcome:
    """What one step did, for `observe`. Times are measured (real) or predicted (simulated)."""

    now_s: float  # the step's end
    request_ids: np.ndarray
    drafted: np.ndarray  # draft tokens per request this step
    verified: np.ndarray  # of which sent to verification
    accepted: np.ndarray  # accepted prefix length (≤ verified); each request also got +1 token
    confidences: np.ndarray  # [B, K], NaN past drafted
    draft_s: float
    verify_s: float
    prefill_s: float
    step_s: float
    mean_context_tokens: float


class Policy:
    """Base class: plain decoding with every hook at its default. Subclasses set `name` and
    override what they decide."""

    name: ClassVar[str] = "policy"
    uses_draft: ClassVar[bool] = True  # False: the engine never loads or runs a draft model
    simulator_only: ClassVar[bool] = False  # True: the real engine refuses it
    max_draft_tokens: int = 0  # upper bound on any k it plans; engines reserve KV room for it
    drafts_trees: bool = False  # True: plan_draft gives node budgets; plan_tree, select_nodes
    tree_branching: int = 1  # candidates each tree node offers the next depth

    def plan_draft(self, view: BatchView) -> np.ndarray:
        return np.zeros(view.batch_size, dtype=np.int64)

    def continue_drafting(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        """Which requests draft another token (only asked of requests below their planned k)."""
        return np.ones(view.batch_size, dtype=bool)

    def plan_verify(self, view: BatchView, drafts: Drafts) -> np.ndarray:
        return drafts.lengths

    def observe(self, outcome: StepOutcome) -> None:
        return None

    def plan_tree(self, view: BatchView, budgets: np.ndarray) -> np.ndarray:
        """Tree policies: nodes kept per depth, [B, D] (see the module's docstring)."""
        raise NotImplementedError(f"{self.name} drafts sequences, not trees")

    def select_nodes(self, view: BatchView, tree: DraftTree, budgets: np.ndarray) -> np.ndarray:
        """Tree policies: which nodes to verify, bool [B, N]; by default each request's
        `budgets[i]` most probable nodes."""
        return top_nodes(tree, budgets)

    def parameters(self) -> dict[str, object]:
        """The constructor arguments, for the label and the tables."""
        return {}

    def label(self) -> str:
        parameters = self.parameters()
        if not parameters:
            return self.name
        return self.name + ":" + ",".join(f"{key}={_format(value)}" for key, value in parameters.items())

    def stops_drafting_early(self) -> bool:
        return type(self).continue_drafting is not Policy.continue_drafting


def top_nodes(tree: DraftTree, counts: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """bool [B, N]: each request's `counts[i]` nodes of highest path probability (closed under
    ancestors, see DraftTree.by_path; `order`: that order, where the caller has it already)."""
    order = tree.by_path() if order is None else order
    rank = np.empty_like(order)
    rank[np.arange(len(order))[:, None], order] = np.arange(order.shape[1])[None, :]  # node → its place
    return rank < np.minimum(counts, tree.sizes)[:, None]


def _format(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
