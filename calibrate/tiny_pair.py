"""A tiny real-weight target/draft pair, built in seconds on a CPU, with meaningful acceptance.

    python -m calibrate.tiny_pair OUT_DIR [--seed N]

writes `OUT_DIR/target/`, `OUT_DIR/draft/` (transformers checkpoints, `save_pretrained`) and
`OUT_DIR/prompts.jsonl` (token-id prompts, 24 per category). Calibrate it with
`specsim calibrate --gpu cpu --target OUT_DIR/target --draft OUT_DIR/draft --dataset
OUT_DIR/prompts.jsonl --out profile.json`.

Why constructed rather than trained: a trained pair needs minutes on two CPU cores and is fragile
(ENGINE-NOTES), random pairs agree almost never, and a noisy copy of the target is as slow as it.
So the weights are written down directly, as a small "language":

- Vocabulary 4096, split into one block per category. Inside a block the tokens form one long
  cycle; after token x come its successor s(x) and, less likely, s(s(x)) and s(s(s(x))): text
  walks forward along the cycle, now and then skipping, and never loops within a request.
- The draft (h128, 1 layer; its layer's output projections are zero) is the bigram table
  `logits(x → y)`: +14 for the successor, lowered by exponential per-token gaps for the two skips
  — the gaps' mean differs by category (small gaps: an unsure draft). Low-rank: head rows are
  random keys in 127 dimensions (any three consecutive tokens of a cycle get orthogonal keys, so
  a token's three candidates are exact), a token's row is the gap-weighted sum of its candidates'
  keys, and every other token gets a small random logit.
- The target (h384, 6 layers) carries the same table in 128 of its dimensions, plus what the draft
  cannot see: head 0 of layer 0 attends to the previous token and head 1 to the one before
  (RoPE queries and keys built from a constant dimension, so the score peaks at a fixed offset),
  copying their identity vectors into a subspace that the LM head reads with random weights of
  std `target_noise_logits` = 1. The target's choice among the candidates thus depends on the
  two previous tokens; layers 1-5 keep their random initialisation (they cost what layers cost
  and add a little noise). Where the draft is sure (a large gap) the target agrees; near a tie the
  context decides, so P(accept | confidence) rises with confidence by construction.

Measured on this project's 2-core CPU with `calibrate` (seed 0, 24 prompts × 96 new tokens per
category, 8 drafted tokens per step), greedy acceptance at position 1 (per-token acceptance is
within ±0.04): code 0.82, math 0.81, retrieval 0.80, chat 0.65, summarisation 0.53,
translation 0.41; mean tokens per step at k = 8: 4.7, 4.2, 3.8, 2.9, 2.1, 1.7. At temperature 1
(min(1, p/q)) all categories sit at 0.73-0.80. λ (request share) ≈ 0: a token's difficulty does
not depend on its request. One decode forward at batch 1 against a 128-token cache: target
≈ 10 ms, draft ≈ 1.1 ms on an idle machine (both up to ~1.7× slower under neighbours' load).
Built in ~3 s (first call), ~55 MB + 5 MB of float32 safetensors.

Cached by content: a second call with the same spec and seed returns at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from specsim.prompts import CATEGORIES

VERSION = 1  # bump when the construction changes: it invalidates cached pairs
STAMP = "tiny-pair.json"
# where the benchmarks keep the pair, the folder tests/conftest.py uses too: content-keyed, so built
# once per machine
_CACHE_ROOT = Path(os.environ.get("SPECSIM_TEST_CACHE", Path.home() / ".cache" / "specsim-tests"))
SHARED_DIR = _CACHE_ROOT / "tiny-pair"


@dataclass(frozen=True)
class TinyPairSpec:
    vocab_size: int = 4096
    categories: tuple[str, ...] = CATEGORIES
    # mean gap (logits) between a token's successor and each further candidate, per category:
    # small gaps make the draft unsure and let the target's context decide
    gap_logits: tuple[float, ...] = (1.1, 2.6, 0.5, 2.0, 0.2, 1.4)
    candidates: int = 3
    spike_logits: float = 14.0
    target_noise_logits: float = 1.0
    target_hidden: int = 384
    target_layers: int = 6
    draft_hidden: int = 128
    draft_layers: int = 1
    head_dim: int = 64
    prompts_per_category: int = 24
    prompt_tokens: tuple[int, int] = (16, 48)
    candidate_walk: tuple[float, ...] = field(default=(0.6, 0.3, 0.1))


def make_tiny_pair(out_dir: str | Path, seed: int = 0, spec: TinyPairSpec | None = None) -> tuple[Path, Path]:
    """Write (or reuse) the pair under `out_dir`; returns (target_dir, draft_dir)."""
    spec = spec or TinyPairSpec()
    out_dir = Path(out_dir)
    target_dir, draft_dir = out_dir / "target", out_dir / "draft"
    key = _content_key(spec, seed)
    if _cached(out_dir, key):
        return target_dir, draft_dir
    target, draft, prompts = build_tiny_pair(spec, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    target.save_pretrained(target_dir)
    draft.save_pretrained(draft_dir)
    with (out_dir / "prompts.jsonl").open("w") as lines:
        for category, token_ids in prompts:
            lines.write(json.dumps({"category": category, "token_ids": token_ids}) + "\n")
    stamp = {"key": key, "version": VERSION, "seed": seed, "spec": asdict(spec)}
    tmp = out_dir / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1) + "\n")
    tmp.replace(out_dir / STAMP)  # written last: a half-written pair is never taken for a cached one
    return target_dir, draft_dir


def build_tiny_pair(spec: TinyPairSpec, seed: int = 0):
    """The two models (float32, eval mode) and the prompts [(category, token_ids)], in memory."""
    from transformers import LlamaConfig, LlamaForCausalLM

    generator = torch.Generator().manual_seed(seed)
    table = _bigram_table(spec, generator)
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the ballast layers' random init
        draft = LlamaForCausalLM(_config(LlamaConfig, spec, spec.draft_hidden, spec.draft_layers)).eval()
        target = LlamaForCausalLM(_config(LlamaConfig, spec, spec.target_hidden, spec.target_layers)).eval()
    with torch.no_grad():
        _write_draft(draft, table)
        _write_target(target, table, spec, generator)
    _check_previous_token_copy(target, spec)
    return target, draft, _prompts(spec, table, generator)


@dataclass
class _Table:
    """The draft's bigram logits, factored: logits(x → y) = head[y] · token[x] after RMSNorm."""

    token: torch.Tensor  # [V, r], every row of norm sqrt(norm2)
    head: torch.Tensor  # [V, r]
    norm2: float
    block: torch.Tensor  # [V] category index of each token
    candidates: torch.Tensor  # [V, candidates] successor, then skips


def _bigram_table(spec: TinyPairSpec, generator: torch.Generator) -> _Table:
    vocab, blocks, r = spec.vocab_size, len(spec.categories), spec.draft_hidden
    keys_dim = r - 1  # the last dim is filler, so that every token row has the same norm
    block = torch.clamp(torch.arange(vocab) // (vocab // blocks), max=blocks - 1)
    keys = torch.empty(vocab, keys_dim)
    candidates = torch.empty(vocab, spec.candidates, dtype=torch.long)
    gaps = torch.zeros(vocab, spec.candidates)
    for index in range(blocks):
        members = torch.nonzero(block == index).ravel()
        cycle = members[torch.randperm(len(members), generator=generator)]
        keys[cycle] = _window_orthogonal_keys(len(cycle), keys_dim, spec.candidates, generator)
        for rank in range(spec.candidates):
            candidates[cycle, rank] = torch.roll(cycle, -1 - rank)
        steps = -spec.gap_logits[index] * torch.log(
            torch.rand(len(members), spec.candidates - 1, generator=generator)
        )  # exponential gaps, cumulated: each further candidate is less likely
        gaps[members, 1:] = torch.cumsum(steps, dim=1)
    # token vector: its candidates' keys, weighted so that head[y]·token[x] = spike − gap exactly
    # (a token's candidates have orthogonal keys); other tokens get small random logits
    weights = (spec.spike_logits - gaps).clamp(min=0) / math.sqrt(keys_dim)
    token = torch.zeros(vocab, r)
    token[:, :keys_dim] = (weights[:, :, None] * keys[candidates]).sum(dim=1)
    squared = (token**2).sum(dim=1)
    norm2 = float(squared.max()) * 1.05
    token[:, r - 1] = torch.sqrt(norm2 - squared)  # equal norms: RMSNorm then scales all rows alike
    scale = math.sqrt(r / norm2)  # what the RMSNorm multiplies every row by
    head = torch.zeros(vocab, r)
    head[:, :keys_dim] = keys / math.sqrt(keys_dim) / scale
    return _Table(token, head, norm2, block, candidates)


def _window_orthogonal_keys(count: int, dim: int, window: int, generator: torch.Generator) -> torch.Tensor:
    """Random keys of norm sqrt(dim) for a cycle of `count` tokens, any `window` consecutive ones
    (cyclically) mutually orthogonal."""
    keys = torch.randn(count, dim, generator=generator, dtype=torch.float64)
    for i in range(count):
        near = [j % count for j in range(i - window + 1, i + window) if j != i]
        done = [j for j in near if j < i]  # wrap-around neighbours at the end are already made
        if done:
            basis, _ = torch.linalg.qr(keys[done].T)
            keys[i] -= basis @ (basis.T @ keys[i])
        keys[i] *= math.sqrt(dim) / keys[i].norm()
    return keys.float()


def _config(config_class, spec: TinyPairSpec, hidden: int, layers: int):
    heads = hidden // spec.head_dim if hidden >= spec.head_dim else 4
    return config_class(
        vocab_size=spec.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, intermediate_size=hidden * 8 // 3 // 8 * 8,
        max_position_embeddings=4096, tie_word_embeddings=False, rms_norm_eps=1e-6,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,  # generation never stops early
    )


def _write_draft(draft, table: _Table) -> None:
    draft.model.embed_tokens.weight.copy_(table.token)
    draft.lm_head.weight.copy_(table.head)
    draft.model.norm.weight.fill_(1.0)
    for layer in draft.model.layers:  # the layer still costs a layer; it writes nothing
        layer.self_attn.o_proj.weight.zero_()
        layer.mlp.down_proj.weight.zero_()


def _write_target(target, table: _Table, spec: TinyPairSpec, generator: torch.Generator) -> None:
    vocab, hidden, r, head_dim = spec.vocab_size, spec.target_hidden, spec.draft_hidden, spec.head_dim
    # residual layout: [0, r) the draft's token vector | r: a constant | [r+1, r+1+d) token
    # identity | [r+1+d, r+1+2d) the previous tokens' identities, written by layer 0
    constant, identity, copied = r, r + 1, r + 1 + head_dim
    norm = math.sqrt(table.norm2)
    ident = torch.randn(vocab, head_dim, generator=generator)
    ident = ident / ident.norm(dim=1, keepdim=True) * norm
    embed = torch.zeros(vocab, hidden)
    embed[:, :r] = table.token
    embed[:, constant] = norm
    embed[:, identity : identity + head_dim] = ident
    target.model.embed_tokens.weight.copy_(embed)
    in_scale = math.sqrt(hidden) / math.sqrt(3 * table.norm2)  # input RMSNorm of an embedding row

    attention = target.model.layers[0].self_attn
    for projection in (attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj):
        projection.weight.zero_()
    target.model.layers[0].mlp.down_proj.weight.zero_()
    theta = target.model.rotary_emb.inv_freq.double()  # RoPE frequency of each pair (i, i + d/2)
    mix = torch.randn(head_dim, head_dim, generator=generator) / math.sqrt(head_dim)
    pairs, weight = 6, 80.0  # 6 fastest pairs; the score peaks at the lag with ≈ 10 logits margin
    for head_index, lag in enumerate((1, 2)):
        rows = head_index * head_dim
        amplitude = math.sqrt(weight) / (norm * in_scale)
        for i in range(pairs):
            # q = a, k = a·e^{i·lag·θ}: the rotated score Σ a² cos(θ(n − m + lag)) peaks at n = m − lag
            attention.q_proj.weight[rows + i, constant] = amplitude
            attention.k_proj.weight[rows + i, constant] = amplitude * math.cos(lag * theta[i])
            attention.k_proj.weight[rows + i + head_dim // 2, constant] = amplitude * math.sin(lag * theta[i])
        value = torch.eye(head_dim) if lag == 1 else mix
        attention.v_proj.weight[rows : rows + head_dim, identity : identity + head_dim] = value / in_scale
        half = torch.eye(head_dim) / math.sqrt(2)  # two heads write the same subspace
        attention.o_proj.weight[copied : copied + head_dim, rows : rows + head_dim] = half

    # final RMSNorm: rows hold ≈ 4·norm2 (token, constant, identity, copy); the head undoes the scale
    out_scale = math.sqrt(hidden / (4 * table.norm2))
    draft_scale = math.sqrt(r / table.norm2)
    lm_head = torch.zeros(vocab, hidden)
    lm_head[:, :r] = table.head * draft_scale / out_scale
    noise = torch.randn(vocab, head_dim, generator=generator)
    lm_head[:, copied : copied + head_dim] = noise * spec.target_noise_logits / (norm * out_scale)
    target.lm_head.weight.copy_(lm_head)
    target.model.norm.weight.fill_(1.0)


def _check_previous_token_copy(target, spec: TinyPairSpec) -> None:
    """Guard against a transformers version with another RoPE layout: head 0 must copy token t-1."""
    ids = torch.arange(0, spec.vocab_size, spec.vocab_size // 24)[None, :24]
    with torch.inference_mode():
        hidden = target(ids, output_hidden_states=True).hidden_states[1]
    start = spec.draft_hidden + 1
    identity = target.model.embed_tokens.weight[ids[0, :-1], start : start + spec.head_dim]
    copied = hidden[0, 1:, start + spec.head_dim : start + 2 * spec.head_dim]
    agreement = torch.nn.functional.cosine_similarity(copied, identity, dim=-1).mean().item()
    if agreement < 0.5:
        raise RuntimeError(f"tiny pair: the previous-token head does not attend as built ({agreement:.2f})")


def _prompts(spec: TinyPairSpec, table: _Table, generator: torch.Generator) -> list[tuple[str, list[int]]]:
    """Walks along each block's cycle (successor, or a skip), like text of that category."""
    walk = torch.tensor(spec.candidate_walk)
    low, high = spec.prompt_tokens
    prompts = []
    for index, category in enumerate(spec.categories):
        members = torch.nonzero(table.block == index).ravel()
        for _ in range(spec.prompts_per_category):
            length = int(torch.randint(low, high + 1, (1,), generator=generator))
            token = int(members[torch.randint(len(members), (1,), generator=generator)])
            ids = [token]
            for _ in range(length - 1):
                rank = int(torch.multinomial(walk, 1, generator=generator))
                token = int(table.candidates[token, rank])
                ids.append(token)
            prompts.append((category, ids))
    return prompts


def load_tiny_pair(out_dir: str | Path = SHARED_DIR) -> tuple[torch.nn.Module, torch.nn.Module]:
    """`make_tiny_pair`, then (target, draft) loaded on the CPU in float32 as realrun loads them."""
    from realrun.models import load_model

    target_dir, draft_dir = make_tiny_pair(out_dir)
    target = load_model(target_dir, "--target", "cpu", "float32").model
    draft = load_model(draft_dir, "--draft", "cpu", "float32", 1).model
    return target, draft


def _content_key(spec: TinyPairSpec, seed: int) -> str:
    text = json.dumps({"version": VERSION, "seed": seed, "spec": asdict(spec)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(out_dir: Path, key: str) -> bool:
    try:
        stamp = json.loads((out_dir / STAMP).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    files = [out_dir / "prompts.jsonl"] + [out_dir / d / "config.json" for d in ("target", "draft")]
    return stamp.get("key") == key and all(path.exists() for path in files)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m calibrate.tiny_pair",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    target_dir, draft_dir = make_tiny_pair(args.out_dir, seed=args.seed)
    print(f"target: {target_dir}\ndraft: {draft_dir}\nprompts: {Path(args.out_dir) / 'prompts.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
