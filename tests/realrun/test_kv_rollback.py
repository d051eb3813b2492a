"""KV rollback: after speculative steps with rejections (mixed k, pruning, plain rows), each
request's target and draft caches give the same logits as a fresh forward over the tokens kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import DynamicCache

from realrun.backend import RealSpeculation
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import with_cache


def _prompts(pair_dir, count: int) -> list[list[int]]:
    lines = (pair_dir / "prompts.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    picked = [rows[0], rows[30], rows[100]][:count]  # different categories: different acceptance
    return [row["token_ids"][:20] for row in picked]


def test_caches_after_rejections_match_fresh_forward(tiny_pair, tiny_models):
    pair_dir = tiny_pair[0]
    target, draft = tiny_models
    prompts = _prompts(pair_dir, 3)
    target_kv = SlotKV(target.config, 3, 160, "cpu", torch.float32)
    draft_kv = SlotKV(draft.config, 3, 160, "cpu", torch.float32)
    rows = []
    with torch.inference_mode():
        for slot, prompt in enumerate(prompts):
            for model, kv in ((target, target_kv), (draft, draft_kv)):
                cache = DynamicCache(config=model.config)
                logits = model(input_ids=torch.tensor([prompt]), **with_cache(model, cache),
                               use_cache=True).logits
                kv.load(slot, cache)
                if model is target:
                    rows.append([*prompt, int(logits[0, -1].argmax())])
        backend = RealSpeculation(target, draft, target_kv, draft_kv, False, None, Clock(torch.device("cpu")))
        rejected = 0
        plans = [np.array([3, 0, 5]), np.array([4, 2, 0]), np.array([1, 5, 5]), np.array([0, 3, 2])] * 2
        for lengths in plans:
            backend.begin(rows, int(lengths.max()))
            backend.draft(lengths)
            verify = np.maximum(lengths - np.array([0, 0, 1]), 0)  # row 2 prunes one token
            accepted = backend.verify(verify)
            rejected += int((accepted < verify).sum())
        assert rejected > 0

        for model, kv in ((target, target_kv), (draft, draft_kv)):
            lengths = kv.lengths[:3].tolist()
            for i, tokens in enumerate(rows):  # the caches hold a prefix of each sequence
                assert lengths[i] < len(tokens)
            fed = torch.tensor([[tokens[lengths[i]]] for i, tokens in enumerate(rows)])
            cache = kv.batch(None, 3, torch.ones(3, dtype=torch.long))
            cached = model(input_ids=fed, **with_cache(model, cache), attention_mask=cache.mask,
                           position_ids=cache.position_ids).logits[:, -1]
            subset = kv.batch(torch.tensor([2, 0]), 2, torch.ones(2, dtype=torch.long))
            cached_subset = model(input_ids=fed[[2, 0]], **with_cache(model, subset),
                                  attention_mask=subset.mask, position_ids=subset.position_ids).logits[:, -1]
            for i, tokens in enumerate(rows):
                fresh = model(input_ids=torch.tensor([tokens[: lengths[i] + 1]])).logits[0, -1]
                torch.testing.assert_close(cached[i], fresh, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(cached_subset, cached[[2, 0]], atol=1e-4, rtol=1e-4)


def test_slot_moves_keep_each_request_cache(tiny_models):
    target, _ = tiny_models
    kv = SlotKV(target.config, 3, 32, "cpu", torch.float32)
    for slot in range(3):
        for layer in kv.keys:
            layer[slot] = slot + 1
        kv.lengths[slot] = 5 + slot
    kv.move([2, 0], [0, 2])  # a swap: every source is read before any write
    assert kv.lengths.tolist() == [7, 6, 5]
    assert float(kv.keys[0][0, 0, 0, 0]) == 3 and float(kv.keys[0][2, 0, 0, 0]) == 1


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
def test_ragged_batch_matches_per_request_forwards(model_type):
    """Rows of different lengths feeding different numbers of tokens in one forward (grouped-query
    attention, several architectures) give each request's own logits."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(model_type, vocab_size=500, hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=256)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").eval()
    generator = torch.Generator().manual_seed(0)
    sequences = [torch.randint(0, 500, (n,), generator=generator) for n in (10, 17, 5)]
    kv = SlotKV(model.config, 3, 64, "cpu", torch.float32)
    with torch.inference_mode():
        for slot, sequence in enumerate(sequences):
            cache = DynamicCache(config=model.config)
            model(input_ids=sequence[None, :-3], **with_cache(model, cache), use_cache=True)
            kv.load(slot, cache)
        for new in (torch.tensor([3, 2, 1]), torch.tensor([1, 1, 1])):
            kv.lengths[:3] = torch.tensor([len(s) - 3 for s in sequences])
            inputs = torch.zeros(3, int(new.max()), dtype=torch.long)
            for i, sequence in enumerate(sequences):
                inputs[i, : new[i]] = sequence[-3:][: new[i]]
            cache = kv.batch(None, 3, new)
            logits = model(input_ids=inputs, **with_cache(model, cache), attention_mask=cache.mask,
                           position_ids=cache.position_ids, use_cache=True).logits
            for i, sequence in enumerate(sequences):
                fresh = model(input_ids=sequence[None, : len(sequence) - 3 + new[i]]).logits[0, -new[i]:]
                torch.testing.assert_close(logits[i, : new[i]], fresh, atol=1e-5, rtol=1e-5)
