"""How fast is the real engine, and how much of a step is not model work?

    python benchmarks/realrun_overhead.py [--threads N] [--new-tokens N] [--k K] [--device cpu|cuda]

On the tiny real-weight pair (calibrate/tiny_pair.py), prints:
1. output tokens/s at batch 1, 4 and 16 (all requests queued at t = 0, max_batch_size = batch),
   plain decoding (`none`) and `fixed:k=K`, with the fraction of step time spent outside model
   forwards (input building, masks, acceptance, bookkeeping, the scheduler and the policy);
2. the batch-1 speed-up of speculative over plain decoding, next to transformers' own assisted
   generation (`generate(assistant_model=draft)`) on the same prompts: constant K draft tokens,
   and its default heuristic schedule.

Timings on shared CPUs move by ±10-20 % between runs; each figure is the best of `--repeats`.
"""

from __future__ import annotations

import argparse
import time

import torch

from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair
from realrun.serve import serve
from specsim.scenario import scenario_from_dict


def scenario(batch: int, prompt_tokens: int, new_tokens: int):
    return scenario_from_dict({
        "name": f"bench-b{batch}",
        "cluster": {"max_batch_size": batch, "max_batch_tokens": 4096, "kv_capacity_tokens": 1_000_000},
        "workload": {"max_requests": batch if batch > 1 else 4, "duration_s": 0.001,
                     "arrival": {"kind": "poisson", "rate": 1e6},
                     "prompt_tokens": {"kind": "fixed", "value": prompt_tokens},
                     "output_tokens": {"kind": "fixed", "value": new_tokens},
                     "categories": {"code": 1, "chat": 1, "math": 1, "translation": 1}},
        "slo": {"ttft_s": 100.0, "tpot_s": 10.0},
        "policies": ["none"],
        "drain_s": 1e6,
    })


def run_engine(batch: int, policy: str, args, target_dir, draft_dir):
    best = None
    for _ in range(args.repeats):
        result = serve(scenario(batch, args.prompt_tokens, args.new_tokens), policy, 0, target_dir,
                       draft_dir if policy != "none" else None, device=args.device, dtype="float32",
                       show_progress=False)
        steps = result.steps
        step_total = float(steps["step_s"].sum())
        tokens = int(result.requests["output_tokens"].sum())
        figures = {
            "tokens_per_s": tokens / step_total,
            "overhead": 1.0 - result.details["forward_s"] / step_total,
            "mean_accepted": result.summary["mean_accepted_length"],
            "seconds": step_total,
            "prompts": result.prompts,
        }
        if best is None or figures["tokens_per_s"] > best["tokens_per_s"]:
            best = figures
    return best


def run_hf(prompts, args, target, draft, assistant: str | None) -> float:
    """Seconds for transformers' generate over the prompts one by one (greedy)."""
    best = float("inf")
    kwargs = {}
    if assistant is not None:
        config = draft.generation_config
        if assistant == "constant":
            config.num_assistant_tokens, config.num_assistant_tokens_schedule = args.k, "constant"
            config.assistant_confidence_threshold = 0.0
        else:
            config.num_assistant_tokens, config.num_assistant_tokens_schedule = 20, "heuristic"
        kwargs["assistant_model"] = draft
    for _ in range(args.repeats):
        start = time.perf_counter()
        with torch.inference_mode():
            for prompt in prompts:
                target.generate(torch.tensor([prompt], device=target.device), max_new_tokens=args.new_tokens,
                                min_new_tokens=args.new_tokens, do_sample=False, **kwargs)
        if target.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target_dir, draft_dir = make_tiny_pair(SHARED_DIR)
    spec = f"fixed:k={args.k}"

    print(f"tiny pair, {args.prompt_tokens}-token prompts, {args.new_tokens} new tokens, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"{'batch':>5} {'policy':>10} {'tokens/s':>9} {'outside forwards':>17} {'mean acc. len':>14}")
    engine = {}
    for batch in (1, 4, 16):
        for policy in ("none", spec):
            figures = run_engine(batch, policy, args, target_dir, draft_dir)
            engine[batch, policy] = figures
            print(f"{batch:>5} {policy:>10} {figures['tokens_per_s']:>9.1f} {figures['overhead']:>16.1%} "
                  f"{figures['mean_accepted']:>14.2f}")

    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    target = AutoModelForCausalLM.from_pretrained(target_dir, dtype=torch.float32).to(args.device).eval()
    draft = AutoModelForCausalLM.from_pretrained(draft_dir, dtype=torch.float32).to(args.device).eval()
    prompts = engine[1, "none"]["prompts"]
    plain_hf = run_hf(prompts, args, target, draft, None)
    constant_hf = run_hf(prompts, args, target, draft, "constant")
    heuristic_hf = run_hf(prompts, args, target, draft, "heuristic")
    ours = engine[1, "none"]["seconds"] / engine[1, spec]["seconds"]
    print(f"\nbatch-1 speed-up of speculative over plain decoding ({len(prompts)} prompts × "
          f"{args.new_tokens} tokens; realrun: its steps, prefill included; "
          "transformers: whole generate() calls):")
    print(f"  realrun {spec}:                          {ours:5.2f}×")
    print(f"  transformers assisted, constant k={args.k}:      {plain_hf / constant_hf:5.2f}×")
    print(f"  transformers assisted, heuristic schedule: {plain_hf / heuristic_hf:5.2f}×")
    tokens = len(prompts) * args.new_tokens
    print(f"  (plain tokens/s: realrun {engine[1, 'none']['tokens_per_s']:.1f}, transformers "
          f"{tokens / plain_hf:.1f})")


if __name__ == "__main__":
    main()
