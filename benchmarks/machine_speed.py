"""When this machine slows down, what slows? Four kinds of work timed in turn, window by window.

    python benchmarks/machine_speed.py [--seconds S] [--window W]

One thread, in rounds: an integer loop in the interpreter (the core alone, nothing leaves L1),
200 products of 64×64 float matrices (the vector units, in cache), copies of a 64 MiB array (the
memory system) and 5 forwards of the tiny pair's target at 64 tokens (calibrate/tiny_pair.py; the
engine's own kind of work). Each timing is divided by its kind's median over the whole run; per
window of W seconds the mean of those ratios is printed with the CPU time the hypervisor took
from this VM in the window (steal, /proc/stat; blank where the kernel does not report it).
Last: each kind's correlation with the forwards over the windows. If the forwards move with the
integer loop and the in-cache products, the core itself ran slower (its clock, or a neighbour on
the same physical core); if only with the copies, the memory system; steal near zero rules out
the hypervisor taking the vCPU away.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from calibrate.tiny_pair import SHARED_DIR, load_tiny_pair, make_tiny_pair

PROC_STAT = Path("/proc/stat")


def cpu_times() -> list[int] | None:
    """The machine's CPU line of /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal …)."""
    try:
        return [int(field) for field in PROC_STAT.read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    if before is None or after is None or len(after) < 8 or len(before) != len(after):
        return None
    deltas = [now - then for now, then in zip(after, before, strict=True)]
    return deltas[7] / sum(deltas) if sum(deltas) > 0 else None


def kinds_of_work() -> dict[str, Callable[[], object]]:
    make_tiny_pair(SHARED_DIR)
    target, _ = load_tiny_pair(SHARED_DIR)
    tokens = torch.randint(0, target.config.vocab_size, (1, 64))
    matrix = np.random.default_rng(0).random((64, 64))
    source = np.random.default_rng(1).random(8 * 1024 * 1024)
    destination = np.empty_like(source)

    def integer_loop() -> int:
        total = 0
        for value in range(200_000):
            total += value * value
        return total

    def in_cache_products() -> None:
        for _ in range(200):
            matrix @ matrix

    def memory_copies() -> None:
        for _ in range(3):
            np.copyto(destination, source)

    @torch.inference_mode()
    def forwards() -> None:
        for _ in range(5):
            target(tokens)

    return {"integer loop": integer_loop, "in-cache products": in_cache_products,
            "memory copies": memory_copies, "target forwards": forwards}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--window", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    kinds = kinds_of_work()
    times_s: dict[str, list[float]] = {name: [] for name in kinds}
    windows: list[tuple[int, int, float, float | None]] = []  # (first round, end round, end s, steal)
    begin = window_start = time.perf_counter()
    window_cpu, first_round = cpu_times(), 0
    while time.perf_counter() - begin < args.seconds:
        for name, work in kinds.items():
            start = time.perf_counter()
            work()
            times_s[name].append(time.perf_counter() - start)
        if time.perf_counter() - window_start >= args.window:
            now_cpu, window_start = cpu_times(), time.perf_counter()
            rounds = len(times_s["target forwards"])
            windows.append((first_round, rounds, window_start - begin, steal_share(window_cpu, now_cpu)))
            window_cpu, first_round = now_cpu, rounds
    medians_s = {name: float(np.median(values)) for name, values in times_s.items()}
    print(f"one thread, {len(times_s['target forwards'])} rounds in {args.seconds:g} s; median per round: "
          + ", ".join(f"{name} {median * 1e3:.2f} ms" for name, median in medians_s.items()))
    print(f"{'since':>7}" + "".join(f"{name:>19}" for name in kinds) + f"{'steal':>8}")
    means = {name: [] for name in kinds}
    for first, end, since_s, steal in windows:
        for name in kinds:
            means[name].append(float(np.mean(times_s[name][first:end])) / medians_s[name])
        steal_cell = f"{steal:>7.1%}" if steal is not None else f"{'':>7}"
        print(f"{since_s:>6.0f}s" + "".join(f"{means[name][-1]:>19.2f}" for name in kinds) + f" {steal_cell}")
    forwards = np.array(means["target forwards"])
    print("window means over the run's median, 10th-90th percentile: " + ", ".join(
        f"{name} {np.percentile(values, 10):.2f}-{np.percentile(values, 90):.2f}"
        for name, values in means.items()))
    print("correlation with the target forwards over the windows: " + ", ".join(
        f"{name} {np.corrcoef(values, forwards)[0, 1]:+.2f}" for name, values in means.items()
        if name != "target forwards"))


if __name__ == "__main__":
    main()
