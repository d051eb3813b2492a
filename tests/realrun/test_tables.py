"""A real run's tables: contract-3 columns, conservation of tokens, TPOT's definition, arrivals
respected; sampling mode runs; refusals are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from realrun.serve import serve
from specsim.engine.records import REQUEST_COLUMNS, STEP_COLUMNS
from specsim.errors import SpecsimError
from specsim.policy import POLICIES
from specsim.policy.base import Policy
from tests.realrun.conftest import small_scenario
from tests.realrun.policies import MixedPolicy


@pytest.fixture(scope="module")
def mixed_run(tiny_pair):
    _, target_dir, draft_dir = tiny_pair
    POLICIES[MixedPolicy.name] = MixedPolicy
    try:
        return serve(small_scenario(max_batch_size=3, count=5, output_tokens=20), MixedPolicy.name, 3,
                     target_dir, draft_dir, show_progress=False)
    finally:
        del POLICIES[MixedPolicy.name]


def test_columns_are_contract_3(mixed_run):
    assert tuple(mixed_run.requests.columns) == REQUEST_COLUMNS
    assert tuple(mixed_run.steps.columns) == STEP_COLUMNS
    assert mixed_run.summary["policy"] == "test-mixed"
    assert mixed_run.summary["finished"] == 5


def test_tokens_are_conserved(mixed_run):
    requests, steps = mixed_run.requests, mixed_run.steps
    for index, row in requests.iterrows():
        assert len(mixed_run.outputs[index]) == row["output_tokens"]
        # the prefill's first token, then per decode step the accepted drafts plus one token
        assert row["output_tokens"] == 1 + row["steps"] + row["accepted_tokens"]
        assert row["accepted_tokens"] <= row["verified_tokens"] <= row["drafted_tokens"]
    decode_produced = int(steps["accepted"].sum() + steps["batch_size"].sum())
    assert decode_produced == int((requests["steps"] + requests["accepted_tokens"]).sum())
    assert int(steps["drafted"].sum()) == int(requests["drafted_tokens"].sum())
    assert (steps["step_s"] >= steps["draft_s"] + steps["verify_s"] + steps["prefill_s"] - 1e-9).all()


def test_tpot_and_arrivals(mixed_run):
    requests = mixed_run.requests
    tpot = (requests["finish_s"] - requests["first_token_s"]) / (requests["output_tokens"] - 1)
    np.testing.assert_allclose(requests["tpot_s"], tpot)
    np.testing.assert_allclose(requests["ttft_s"], requests["first_token_s"] - requests["arrival_s"])
    assert (requests["first_token_s"] > requests["arrival_s"]).all()  # not served before arriving
    assert (np.diff(mixed_run.steps["t_s"]) >= 0).all()


def test_sampling_mode_runs(tiny_pair):
    _, target_dir, draft_dir = tiny_pair
    result = serve(small_scenario(max_batch_size=2, count=2, output_tokens=12, decoding="sampling"),
                   "fixed:k=3", 0, target_dir, draft_dir, show_progress=False)
    assert result.details["sampling"] is True
    assert [len(result.outputs[i]) for i in range(2)] == [12, 12]
    assert result.requests["accepted_tokens"].sum() > 0


class Seer(Policy):
    name = "test-seer"
    simulator_only = True


def test_refusals(tiny_pair, monkeypatch):
    _, target_dir, draft_dir = tiny_pair
    monkeypatch.setitem(POLICIES, Seer.name, Seer)
    with pytest.raises(SpecsimError, match="simulator-only"):
        serve(small_scenario(), Seer.name, 0, target_dir, draft_dir, show_progress=False)
    with pytest.raises(SpecsimError, match=r"cluster\.replicas"):
        serve(small_scenario(replicas=2), "none", 0, target_dir, None, show_progress=False)
    with pytest.raises(SpecsimError, match="cannot hold the largest request"):
        serve(small_scenario(kv_capacity_tokens=30), "none", 0, target_dir, None, show_progress=False)
    with pytest.raises(SpecsimError, match="--draft is required"):
        serve(small_scenario(), "fixed:k=2", 0, target_dir, None, show_progress=False)
    with pytest.raises(SpecsimError, match=r"lower cluster\.max_batch_size"):
        serve(small_scenario(max_batch_size=65_536, max_batch_tokens=10**9), "none", 0, target_dir, None,
              show_progress=False)


def test_interrupt_keeps_finished_requests(tiny_pair, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) mid-run: the run returns, finished rows are kept, the rest are
    reported unfinished."""
    from realrun import progress

    def interrupt_after_two(self, replica):
        if self.log.finished >= 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(progress.Progress, "update", interrupt_after_two)
    _, target_dir, draft_dir = tiny_pair
    result = serve(small_scenario(max_batch_size=1, count=4, output_tokens=8), "fixed:k=2", 0, target_dir,
                   draft_dir, show_progress=True)
    assert result.details["interrupted"] is True
    finished = result.requests["finish_s"].notna()
    assert finished.sum() == 2 and result.summary["finished"] == 2
    assert (result.requests.loc[finished, "output_tokens"] == 8).all()
