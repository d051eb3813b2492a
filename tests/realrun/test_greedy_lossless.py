"""Greedy speculative decoding is lossless: every request's tokens equal the target's own greedy
`generate()` output, at batch 1 and in batches with mixed k (plain rows, pruned rows, drafts
stopped early)."""

from __future__ import annotations

import pytest
import torch

from realrun.serve import serve
from specsim.policy import POLICIES
from tests.realrun.conftest import small_scenario
from tests.realrun.policies import MixedPolicy, StopEarlyPolicy


def _reference(target, prompt: list[int], new_tokens: int) -> list[int]:
    with torch.inference_mode():
        output = target.generate(torch.tensor([prompt]), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 do_sample=False)
    return output[0, len(prompt):].tolist()


def _check(result, target) -> None:
    table = result.requests
    assert table["finish_s"].notna().all()
    for index, prompt in enumerate(result.prompts):
        produced = result.outputs[index]
        assert len(produced) == table.loc[index, "output_tokens"]
        assert produced == _reference(target, prompt, len(produced)), f"request {index} diverged"


def test_batch_one_fixed_k_matches_generate(tiny_pair, tiny_models):
    _, target_dir, draft_dir = tiny_pair
    result = serve(small_scenario(max_batch_size=1, count=3), "fixed:k=4", 0, target_dir, draft_dir,
                   show_progress=False)
    assert result.requests["accepted_tokens"].sum() > 0
    assert (result.requests["verified_tokens"] > result.requests["accepted_tokens"]).any()  # rejections
    _check(result, tiny_models[0])


@pytest.mark.parametrize("policy", [MixedPolicy, StopEarlyPolicy])
def test_batched_mixed_k_matches_generate(tiny_pair, tiny_models, monkeypatch, policy):
    monkeypatch.setitem(POLICIES, policy.name, policy)
    _, target_dir, draft_dir = tiny_pair
    result = serve(small_scenario(max_batch_size=4, count=6), policy.name, 1, target_dir, draft_dir,
                   show_progress=False)
    steps = result.steps
    assert (steps["batch_size"] > 1).any()
    assert (steps["k_max"] > steps["k_mean"]).any()  # mixed k in one step
    assert (result.requests["verified_tokens"] < result.requests["drafted_tokens"]).any()  # pruned
    _check(result, tiny_models[0])


def test_plain_decoding_matches_generate(tiny_pair, tiny_models):
    _, target_dir, _ = tiny_pair
    result = serve(small_scenario(max_batch_size=3, count=4), "none", 2, target_dir, None,
                   show_progress=False)
    assert result.steps["drafted"].sum() == 0
    _check(result, tiny_models[0])


def test_preemption_and_recompute_stay_lossless(tiny_pair, tiny_models):
    """A KV capacity too small for every request at once: the newest is preempted, later
    recomputed from prompt + generated, and still produces the target's greedy tokens."""
    _, target_dir, draft_dir = tiny_pair
    scenario = small_scenario(max_batch_size=3, count=4, output_tokens=24, kv_capacity_tokens=90)
    result = serve(scenario, "fixed:k=3", 4, target_dir, draft_dir, show_progress=False)
    assert result.details["preemptions"] > 0
    _check(result, tiny_models[0])


def test_chunked_batched_prefill_stays_lossless(tiny_pair, tiny_models):
    """A token budget smaller than a prompt: prompts are prefilled in chunks, several requests'
    chunks in one forward, next to decoding requests."""
    _, target_dir, draft_dir = tiny_pair
    scenario = small_scenario(max_batch_size=3, count=4, prompt_tokens=20, output_tokens=16,
                              max_batch_tokens=13)
    result = serve(scenario, "fixed:k=2", 5, target_dir, draft_dir, show_progress=False)
    steps = result.steps
    assert (steps["prefill_tokens"] > 0).sum() >= 4 * 2  # every prompt took ≥ 2 chunks
    assert ((steps["prefill_tokens"] > 0) & (steps["batch_size"] > 0)).any()  # mixed steps
    _check(result, tiny_models[0])
