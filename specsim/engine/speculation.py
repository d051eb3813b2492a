"""One speculative step's protocol — draft, (maybe stop early), choose what to verify, verify —
identical in both worlds. The world supplies a `SpeculationBackend`: the simulator samples
confidences and acceptance from the profile, the real engine runs the draft and target models.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from specsim.engine.step import SpeculationResult, StepPlan
from specsim.engine.tree import check_selection
from specsim.policy.base import Drafts, DraftTree, Policy


class SpeculationBackend(Protocol):
    def draft(self, lengths: np.ndarray) -> np.ndarray:
        """Draft lengths[i] tokens for every request; confidences [B, max length], NaN past each
        request's length."""
        ...

    def draft_pass(self, active: np.ndarray, position: int) -> np.ndarray:
        """One draft pass for the requests where `active` holds (each drafting its token at
        `position`); their confidences, in row order."""
        ...

    def verify(self, verify_lengths: np.ndarray) -> np.ndarray:
        """Verify the first verify_lengths[i] draft tokens of each request (0: plain decoding);
        the accepted prefix length of each."""
        ...


class TreeBackend(Protocol):
    def draft_tree(self, widths: np.ndarray, branching: int) -> DraftTree:
        """Grow each request's tree: at most widths[i, j] nodes at depth j + 1, each node
        offering its `branching` most probable tokens to the next depth."""
        ...

    def verify_tree(self, selected: np.ndarray) -> np.ndarray:
        """Verify the selected nodes in one target forward; the accepted path's length each."""
        ...


def speculate_tree(policy: Policy, plan: StepPlan, backend: TreeBackend) -> SpeculationResult:
    """A tree policy's step: `plan_draft` gave node budgets (the plan's lengths, capped by the
    engine like any k), the policy shapes and selects, the backend drafts and verifies."""
    view = plan.view
    assert view is not None
    budgets = plan.draft_lengths
    batch = len(budgets)
    widths = np.asarray(policy.plan_tree(view, budgets), dtype=np.int64).reshape(batch, -1)
    widths = np.where(np.arange(widths.shape[1])[None, :] < budgets[:, None], np.maximum(widths, 0), 0)
    if not widths.any():  # plain decoding this step: an empty tree, verified for the one token
        widths = widths[:, :0]
    tree = backend.draft_tree(widths, policy.tree_branching)
    chosen = policy.select_nodes(view, tree, budgets)
    selected = check_selection(tree, chosen, budgets, policy.max_draft_tokens, policy)
    accepted = backend.verify_tree(selected)
    return SpeculationResult(tree.sizes, selected.sum(axis=1), accepted, tree.probabilities, tree)


def speculate(policy: Policy, plan: StepPlan, backend: SpeculationBackend) -> SpeculationResult:
    view = plan.view
    assert view is not None
    planned = plan.draft_lengths
    if plan.longest >= 0:
        longest = plan.longest
    else:
        longest = int(planned.max()) if len(planned) else 0
    if longest > 0 and policy.stops_drafting_early():
        confidences, lengths = _draft_step_by_step(policy, plan, backend, longest)
    elif longest > 0:
        confidences, lengths = backend.draft(planned), planned
    else:
        confidences, lengths = np.empty((len(planned), 0)), planned
    if longest > 0 and type(policy).plan_verify is not Policy.plan_verify:
        chosen = np.asarray(policy.plan_verify(view, Drafts(confidences, lengths)), dtype=np.int64)
        verify_lengths = np.minimum(np.maximum(chosen, 0), lengths)
    else:
        # the default plan_verify verifies every drafted token: `lengths` itself
        verify_lengths = lengths
    accepted = backend.verify(verify_lengths)
    return SpeculationResult(lengths, verify_lengths, accepted, confidences)


def _draft_step_by_step(policy: Policy, plan: StepPlan, backend: SpeculationBackend,
                        longest: int) -> tuple[np.ndarray, np.ndarray]:
    view = plan.view
    assert view is not None
    planned = plan.draft_lengths
    confidences = np.full((len(planned), longest), np.nan)
    lengths = np.zeros(len(planned), dtype=np.int64)
    drafting = planned > 0
    # every row drafting every pass so far: the common case (a uniform plan, batch-wide stops),
    # kept apart because it needs no masks
    everyone = plan.shortest == longest
    for position in range(longest):
        if everyone:
            confidences[:, position] = backend.draft_pass(drafting, position)
            lengths += 1
            if position + 1 == longest:
                break
        else:
            confidences[drafting, position] = backend.draft_pass(drafting, position)
            lengths += drafting
            drafting &= lengths < planned
            if not drafting.any():
                break
        keep = np.asarray(policy.continue_drafting(view, Drafts(confidences, lengths)), dtype=bool)
        if everyone:
            if keep.all():
                continue
            everyone = False
        drafting &= keep
        if not drafting.any():
            break
    return confidences, lengths
