"""Does a forward's time depend on what ran before it? Why calibrate times forwards inside steps.

    python benchmarks/forward_order.py [--threads N] [--repeats N] [--batch B] [--context C] [--k K]

On the tiny real-weight pair (calibrate/tiny_pair.py), through realrun's slot cache, prints the
median time of:
1. a draft step (one token per request) run back to back, and the same step inside engine-shaped
   steps — k draft passes, then the target's verify of k + 1 tokens — per draft position;
2. the target's verify of k + 1 tokens back to back, and the same pass ending such a step;
3. a one-prompt prefill (target then draft, 32 tokens) right after the previous one, and after
   the process slept 0.1 s and 0.5 s (what an engine with no request does) — what calibrate
   measured as the wake-up before it measured it on the engine itself (calibrate/serving.py);
4. the same prefill right after the previous one (as calibrate's prefill grid times it) and right
   after a speculative decode step of the batch above (as an engine under load runs it).
A calibration that timed each model back to back would read the first column; the engine lives in
the second one. Figures move by ±10-20% between runs on a shared CPU; each is a median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from calibrate.latency import random_slots, slot_forward
from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair

PREFILL_TITLE = "one-prompt prefill (32 tokens, target + draft)"


def one_prompt_prefill(target, draft) -> Callable[[], None]:
    """A repeatable prefill of one 32-token prompt, target then draft, into an emptied slot."""
    rows = torch.arange(1)
    models = (target, draft)
    kvs = [random_slots(model, 1, 33, torch.float32, "cpu") for model in models]
    inputs = [torch.randint(0, model.config.vocab_size, (1, 32)) for model in models]

    def prefill() -> None:
        for model, kv, ids in zip(models, kvs, inputs, strict=True):
            kv.lengths.zero_()
            slot_forward(model, kv, rows, ids, logits_to_keep=1)

    return prefill


def idle_wake_times(prefill: Callable[[], None], samples: int,
                    idle_s: float) -> tuple[list[float], list[float]]:
    """(warm, cold) seconds of `prefill`: right after the previous one, and after sleeping
    `idle_s`, alternating."""
    prefill()
    warm, cold = [], []
    for _ in range(samples):
        prefill()
        warm.append(timed(prefill))
        time.sleep(idle_s)
        cold.append(timed(prefill))
    return warm, cold


def timed(run: Callable[[], object]) -> float:
    begin = time.perf_counter()
    run()
    return time.perf_counter() - begin


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:8.2f}"


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=48)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM

    target_dir, draft_dir = make_tiny_pair(SHARED_DIR)
    target = AutoModelForCausalLM.from_pretrained(target_dir, dtype=torch.float32).eval()
    draft = AutoModelForCausalLM.from_pretrained(draft_dir, dtype=torch.float32).eval()
    batch, context, k = args.batch, args.context, args.k
    capacity = context + k + 2
    target_kv = random_slots(target, batch, capacity, torch.float32, "cpu")
    draft_kv = random_slots(draft, batch, capacity, torch.float32, "cpu")
    draft_ids = torch.randint(0, draft.config.vocab_size, (batch, 1))
    verify_ids = torch.randint(0, target.config.vocab_size, (batch, k + 1))

    def draft_pass() -> None:
        slot_forward(draft, draft_kv, None, draft_ids)

    def verify_pass() -> None:
        slot_forward(target, target_kv, None, verify_ids)

    def rewind() -> None:
        target_kv.lengths[:] = context
        draft_kv.lengths[:] = context

    alone_draft, alone_verify = [], []
    by_position: list[list[float]] = [[] for _ in range(k)]
    in_step_verify = []
    for _ in range(3):  # warm-up
        rewind()
        draft_pass()
        verify_pass()
    for _ in range(args.repeats):
        rewind()
        alone_draft.append(timed(draft_pass))
    for _ in range(args.repeats):
        rewind()
        alone_verify.append(timed(verify_pass))
    for _ in range(args.repeats):
        rewind()
        for position in range(k):
            by_position[position].append(timed(draft_pass))
        in_step_verify.append(timed(verify_pass))

    print(f"tiny pair, batch {batch}, context {context}, k = {k}, {args.threads} thread(s), "
          f"{args.repeats} samples each; median ms")
    print(f"{'forward':<44}{'back to back':>14}{'inside steps':>14}")
    pooled = [sample for samples in by_position for sample in samples]
    print(f"{'draft step (all positions)':<44}{median_ms(alone_draft):>14}{median_ms(pooled):>14}")
    for position, samples in enumerate(by_position):
        print(f"{f'  draft pass {position + 1} of the step':<44}{'':>14}{median_ms(samples):>14}")
    print(f"{f'verify of {k + 1} tokens':<44}{median_ms(alone_verify):>14}{median_ms(in_step_verify):>14}")

    samples = max(5, args.repeats // 6)
    prefill = one_prompt_prefill(target, draft)
    print(f"\n{PREFILL_TITLE:<44}{'warm':>14}{'after idle':>14}")
    for idle_s in (0.1, 0.5):
        warm, cold = idle_wake_times(prefill, samples, idle_s)
        print(f"{f'  {idle_s:g} s asleep':<44}{median_ms(warm):>14}{median_ms(cold):>14}")

    def decode_step() -> None:
        rewind()
        for _ in range(k):
            draft_pass()
        verify_pass()

    back_to_back, after_decode = [], []
    for _ in range(samples):
        prefill()
        back_to_back.append(timed(prefill))
        decode_step()
        after_decode.append(timed(prefill))
    print(f"\n{PREFILL_TITLE:<44}{'after prefill':>14}{'after decode':>14}")
    print(f"{f'  decode step: {k} draft passes + verify':<44}{median_ms(back_to_back):>14}"
          f"{median_ms(after_decode):>14}")


if __name__ == "__main__":
    main()
