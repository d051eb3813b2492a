"""disable_by_batch: fixed k up to max_batch running requests, 0 above; sticky is vLLM's rule."""

import numpy as np

from specsim.policy import make_policy
from specsim.policy.base import MEMORY_SLOTS
from tests.policy.views import make_view


def test_speculates_up_to_max_batch_and_stops_above() -> None:
    policy = make_policy("disable_by_batch:k=3,max_batch=4")
    assert policy.max_draft_tokens == 3
    assert policy.plan_draft(make_view(4)).tolist() == [3, 3, 3, 3]
    assert policy.plan_draft(make_view(5)).tolist() == [0] * 5


def test_per_step_by_default_resumes_when_the_batch_shrinks() -> None:
    policy = make_policy("disable_by_batch:k=2,max_batch=2")
    memory = np.full((3, MEMORY_SLOTS), np.nan)
    assert policy.plan_draft(make_view(3, memory=memory)).tolist() == [0, 0, 0]
    assert policy.plan_draft(make_view(2, memory=memory[:2])).tolist() == [2, 2]


def test_sticky_keeps_requests_disabled_and_lets_new_ones_speculate() -> None:
    policy = make_policy("disable_by_batch:k=2,max_batch=2,sticky=true")
    memory = np.full((3, MEMORY_SLOTS), np.nan)
    assert policy.plan_draft(make_view(3, memory=memory)).tolist() == [0, 0, 0]
    # request 0 stays (its memory row comes along), a new request joins: only it speculates
    carried = np.vstack([memory[:1], np.full((1, MEMORY_SLOTS), np.nan)])
    assert policy.plan_draft(make_view(2, memory=carried)).tolist() == [0, 2]


def test_label_names_its_parameters() -> None:
    assert make_policy("disable_by_batch:k=2,max_batch=8").label() == \
        "disable_by_batch:k=2,max_batch=8,sticky=false"
