"""A replica with prefix caching skips the prompt blocks another request computed: once a pool
of prompts has gone round, each request computes only its last block; the cache yields to
running requests when the KV budget is short; an engine without it computes every token."""

from __future__ import annotations

import pytest

from sim import simulate
from specsim.profile import load_profile
from specsim.profile.roofline import roofline_profile
from tests.sim.scenarios import poisson_scenario

POOL = {"groups": 2, "prompts_per_group": 5, "system_prompt_tokens": 100}


def pooled(**extra):
    return poisson_scenario(rate=2.0, duration_s=30.0, prompt_tokens=400, output_tokens=20,
                            max_batch_size=32, workload__shared_prefix=POOL, **extra)


@pytest.fixture(scope="module")
def caching_profile():
    acceptance = load_profile("h100-llama2-7b-llama-68m").acceptance
    return roofline_profile("h100", "llama2-7b", "llama-68m", acceptance=acceptance)


def computed_if_nothing_else_is_reused(requests) -> int:
    return int((requests["prompt_tokens"] - requests["cached_prompt_tokens"]).sum())


def computed_prompt_tokens(result) -> int:
    return int(result.steps["prefill_tokens"].sum())


def test_a_pool_that_has_gone_round_hits_all_but_the_last_block(caching_profile) -> None:
    result = simulate(pooled(), "none", seed=4, profile=caching_profile)
    requests = result.requests
    assert result.summary["finished"] == len(requests) > 40
    assert (requests["cached_prompt_tokens"].iloc[10:] == 384).all()  # 399 tokens → 24 full blocks
    # the first round shares at most the system prompt's 6 full blocks
    assert set(requests["cached_prompt_tokens"].iloc[:10]) <= {0, 96}
    assert computed_prompt_tokens(result) == computed_if_nothing_else_is_reused(requests)
    cached = requests["cached_prompt_tokens"] == 384
    assert requests.loc[cached, "ttft_s"].median() < requests.loc[~cached, "ttft_s"].median()


def test_an_engine_without_prefix_caching_computes_every_prompt_token() -> None:
    separate = roofline_profile("h100", "llama2-7b", "llama-68m", composition="separate")
    result = simulate(pooled(), "none", seed=4, profile=separate)
    assert (result.requests["cached_prompt_tokens"] == 0).all()
    assert computed_prompt_tokens(result) == int(result.requests["prompt_tokens"].sum())


@pytest.mark.parametrize(("capacity", "whole_prompt_hits"), [(3000, False), (3500, True)])
def test_the_cache_yields_to_running_requests_when_the_budget_is_short(caching_profile, capacity: int,
                                                                       whole_prompt_hits: bool) -> None:
    # the pool's prompts need 2 × 96 + 10 × 304 = 3232 tokens of cache beside the running requests:
    # at 3000 least-recently-used eviction meets a cyclic pool that does not fit and keeps none of
    # its prompts (only the system prompts running requests hold); at 3500 they all stay
    busy = pooled(cluster__kv_capacity_tokens=capacity, workload__arrival={"kind": "poisson", "rate": 6.0})
    result = simulate(busy, "fixed:k=2", seed=4, profile=caching_profile)
    requests = result.requests
    assert result.summary["finished"] == len(requests) > 100  # nobody waits on the cache
    hits = requests["cached_prompt_tokens"].iloc[10:]
    if whole_prompt_hits:
        assert (hits == 384).mean() > 0.9
    else:
        assert set(hits) <= {0, 96} and (hits == 96).mean() > 0.9
    # a preempted request computes its prompt again: at least what no cache hit saved
    assert computed_prompt_tokens(result) >= computed_if_nothing_else_is_reused(requests)


def test_every_token_held_is_given_back_when_the_run_ends(caching_profile, monkeypatch) -> None:
    from specsim.engine.scheduler import Scheduler

    ends: list[tuple[int, int]] = []
    recorded = Scheduler.record_unfinished

    def recording(self) -> None:
        ends.append((self.kv.own_tokens, self.kv.cache.pinned_tokens))
        recorded(self)

    monkeypatch.setattr(Scheduler, "record_unfinished", recording)
    busy = pooled(cluster__kv_capacity_tokens=3000, workload__arrival={"kind": "poisson", "rate": 6.0})
    result = simulate(busy, "fixed:k=2", seed=4, profile=caching_profile)
    assert result.summary["finished"] == result.summary["requests"]
    assert ends == [(0, 0)]
