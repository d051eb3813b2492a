"""The engine's sampling path end to end (draft sampling, the stored draft distributions per
position, rejection sampling in verify, cache rollback between steps): the first two tokens a
speculative step emits follow the target's own distribution."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import torch
from scipy.stats import chisquare
from transformers import DynamicCache

from realrun.backend import RealSpeculation
from realrun.clock import Clock
from realrun.kv import SlotKV
from realrun.models import with_cache

ROWS, REPEATS, K = 32, 20, 3


def _p_value(samples: list[int], probabilities: torch.Tensor) -> float:
    """Chi-square over the tokens expected ≥ 5 times, the rest merged into one bin."""
    expected = probabilities.double().numpy() * len(samples)
    big = np.flatnonzero(expected >= 5)
    counts = Counter(samples)
    observed = [counts.get(int(t), 0) for t in big]
    observed.append(len(samples) - sum(observed))
    expected_bins = [*expected[big], len(samples) - expected[big].sum()]
    if expected_bins[-1] < 5:  # nothing worth a bin left over: fold it into the largest
        observed[int(np.argmax(expected_bins[:-1]))] += observed.pop()
        expected_bins[int(np.argmax(expected_bins[:-1]))] += expected_bins.pop()
    expected_bins = np.asarray(expected_bins) * (len(samples) / np.sum(expected_bins))
    return float(chisquare(observed, expected_bins).pvalue)


def test_speculative_sampling_follows_the_target(tiny_pair, tiny_models):
    target, draft = tiny_models
    rows = [json.loads(line) for line in (tiny_pair[0] / "prompts.jsonl").read_text().splitlines()]
    prompt = rows[100]["token_ids"][:20]  # translation: the least sure draft, many rejections
    with torch.inference_mode():
        target_kv = SlotKV(target.config, ROWS, 64, "cpu", torch.float32)
        draft_kv = SlotKV(draft.config, ROWS, 64, "cpu", torch.float32)
        for model, kv in ((target, target_kv), (draft, draft_kv)):
            cache = DynamicCache(config=model.config)
            model(input_ids=torch.tensor([prompt]), **with_cache(model, cache), use_cache=True)
            for slot in range(ROWS):
                kv.load(slot, cache)
        first = int(target(input_ids=torch.tensor([prompt])).logits[0, -1].argmax())
        generator = torch.Generator().manual_seed(0)
        clock = Clock(torch.device("cpu"))
        backend = RealSpeculation(target, draft, target_kv, draft_kv, True, generator, clock)
        emitted, pairs, rejected = [], [], 0
        for _ in range(REPEATS):
            sequences = [[*prompt, first] for _ in range(ROWS)]
            target_kv.lengths[:] = len(prompt)  # roll every row back to the prompt
            draft_kv.lengths[:] = len(prompt)
            backend.begin(sequences, K)
            backend.draft(np.full(ROWS, K))
            accepted = backend.verify(np.full(ROWS, K))
            rejected += int((accepted < K).sum())
            at = len(prompt) + 1
            emitted += [s[at] for s in sequences]
            pairs += [(s[at], s[at + 1]) for s, a in zip(sequences, accepted, strict=True) if a >= 1]
        assert rejected > ROWS // 2  # the residual path is exercised
        p_first = torch.softmax(target(input_ids=torch.tensor([[*prompt, first]])).logits[0, -1], dim=-1)
        assert _p_value(emitted, p_first) > 1e-3
        common = Counter(a for a, _ in pairs).most_common(1)[0][0]
        seconds = [b for a, b in pairs if a == common]
        logits = target(input_ids=torch.tensor([[*prompt, first, common]])).logits[0, -1]
        p_second = torch.softmax(logits, dim=-1)
        assert _p_value(seconds, p_second) > 1e-3
