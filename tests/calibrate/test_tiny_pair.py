"""The tiny real-weight pair: cached, cheap draft, and acceptance that matches a direct count."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import calibrate.tiny_pair as tiny_pair_module
from calibrate.acceptance import AcceptanceRun, speculate_prompts
from calibrate.acceptance_stats import summarise
from calibrate.tiny_pair import make_tiny_pair
from specsim.prompts import CATEGORIES, load_prompts


def test_second_call_reuses_the_cached_pair(tiny_pair, monkeypatch):
    out, target_dir, _ = tiny_pair
    written = (target_dir / "model.safetensors").stat().st_mtime_ns

    def never(*args, **kwargs):
        raise AssertionError("the cached pair was built again")

    monkeypatch.setattr(tiny_pair_module, "build_tiny_pair", never)
    assert make_tiny_pair(out) == (out / "target", out / "draft")
    assert (target_dir / "model.safetensors").stat().st_mtime_ns == written
    assert tuple(load_prompts(out / "prompts.jsonl")) == CATEGORIES


def test_draft_is_much_cheaper_than_the_target(tiny_models):
    # by the work a forward does (weights read, FLOPs per token), not by timing this machine
    target, draft = tiny_models

    def weights(model) -> int:
        return sum(parameter.numel() for parameter in model.parameters())

    assert weights(draft) < 0.5 * weights(target)
    assert draft.config.num_hidden_layers * draft.config.hidden_size < 0.5 * (
        target.config.num_hidden_layers * target.config.hidden_size)


def greedy_continuation(model, ids: list[int], length: int) -> list[int]:
    """Plain greedy decoding, recomputing the whole sequence each token (no cache, no speculation)."""
    ids = list(ids)
    with torch.inference_mode():
        for _ in range(length):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids


def direct_accepted_counts(target, draft, prompt: list[int], k: int, new_tokens: int) -> list[int]:
    """Accepted prefix of each step, counted from the target's own greedy text: at each step the
    draft continues the text greedily for k tokens and the matches with that text are counted."""
    reference = greedy_continuation(target, prompt, new_tokens + k + 1)
    position, counts = len(prompt), []
    while position - len(prompt) < new_tokens:
        proposal = greedy_continuation(draft, reference[:position], k)[position:]
        matched = 0
        while matched < k and proposal[matched] == reference[position + matched]:
            matched += 1
        counts.append(matched)
        position += matched + 1
    return counts


def test_measured_greedy_acceptance_equals_a_direct_count(tiny_pair, tiny_models):
    out, _, _ = tiny_pair
    target, draft = tiny_models
    prompts = load_prompts(out / "prompts.jsonl")
    k, new_tokens = 4, 24
    rates = {}
    for category in ("code", "translation"):
        rows = [list(p.token_ids) for p in prompts[category][:3]]
        records = speculate_prompts(target, draft, rows, AcceptanceRun(k, new_tokens))
        direct = [n for row in rows for n in direct_accepted_counts(target, draft, row, k, new_tokens)]
        assert records.accepted.tolist() == direct
        curve = summarise(records)
        direct = np.asarray(direct)
        for j in range(k):
            assert curve.position_acceptance[j] == pytest.approx(np.mean(direct >= j + 1))
            assert curve.mean_accepted_length[j] == pytest.approx(1 + np.mean(np.minimum(direct, j + 1)))
        rates[category] = curve.position_acceptance[0]
    # the categories are built to differ: code's draft is sure of itself, translation's is not
    assert rates["code"] > rates["translation"] + 0.15


def test_acceptance_rises_with_draft_confidence(tiny_pair, tiny_models):
    out, _, _ = tiny_pair
    target, draft = tiny_models
    rows = [list(p.token_ids) for p in load_prompts(out / "prompts.jsonl")["chat"][:8]]
    run = AcceptanceRun(max_draft_tokens=4, new_tokens=48)
    curve = summarise(speculate_prompts(target, draft, rows, run))
    centres = np.arange(0.05, 1.0, 0.1)
    supported = np.asarray(curve.accept_samples_by_bin) >= 20
    rates = np.asarray(curve.accept_given_confidence)[supported]
    assert supported.sum() >= 4
    assert rates[-1] - rates[0] >= 0.3
    # non-decreasing up to sampling error (20-80 tokens per bin: a rate's std is 0.05-0.1)
    assert all(later >= max(rates[:i]) - 0.1 for i, later in enumerate(rates) if i)
    assert spearmanr(centres[supported], rates).statistic >= 0.7
    assert 0.3 < curve.position_acceptance[0] < 0.9
