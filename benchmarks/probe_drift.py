"""How steady is the machine against a profile, second by second? validate's speed probe, repeated.

    python benchmarks/probe_drift.py [--profile P] [--seconds S] [--gap G] [--window W] [--idle I]
                                     [--threads N]

On the tiny real-weight pair (calibrate/tiny_pair.py): a quick calibration of the pair (as
`validate --calibrate` makes it; or `--profile P`, e.g. a validate output's profile.json), an
optional idle wait of I seconds, then `calibrate.probe.SpeedProbe` called for S seconds, G seconds
apart (0: back to back, a sustained single-thread load like a real run's). Printed per window of
W seconds: the probes' decode and prefill readings over the profile's price (median, min, max).
Two questions it answers: does the probe right after a calibration read the profile (≈ 1)? does
the machine's speed move within a minute, or after an idle spell (a burstable VM's credits)?
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from calibrate.probe import SpeedProbe
from calibrate.tiny_pair import SHARED_DIR, make_tiny_pair
from specsim.profile import Profile, load_profile

POLICIES = ["none", "fixed:k=2", "fixed:k=4", "adaptive"]  # scenarios/validate-cpu.yaml's


def calibrated_profile(target, draft, prompts) -> Profile:
    from calibrate import calibrate

    return calibrate(target, draft, gpu="cpu", device="cpu", quick=True, dataset=prompts, max_draft_tokens=4,
                     threads=1, progress=False, policies=POLICIES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="a profile of the tiny pair (default: calibrate it first)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between probes")
    parser.add_argument("--window", type=float, default=15.0, help="seconds per printed line")
    parser.add_argument("--idle", type=float, default=0.0, help="seconds idle before the first probe")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target, draft = make_tiny_pair(SHARED_DIR)
    if args.profile:
        profile, source = load_profile(args.profile), args.profile
    else:
        profile = calibrated_profile(target, draft, SHARED_DIR / "prompts.jsonl")
        source = "calibrated just now"
    probe = SpeedProbe(target, draft, profile)
    price_ms = probe.decode_price_s() * 1e3
    print(f"tiny pair, {args.threads} thread(s); profile: {source}; probe: context {probe.context}, "
          f"q {probe.verify_tokens}, prompt {probe.prompt}; decode price {price_ms:.1f} ms")
    time.sleep(args.idle)
    print(f"{'time':<10}{'since':>7}{'probes':>8}{'decode ×: median':>18}{'min':>7}{'max':>7}"
          f"{'prefill ×: median':>19}{'min':>7}{'max':>7}")
    begin = window_start = time.perf_counter()
    readings = []
    while (now := time.perf_counter()) - begin < args.seconds:
        readings.append(probe())
        time.sleep(args.gap)
        if time.perf_counter() - window_start >= args.window:
            decode = [reading.decode_ratio for reading in readings]
            prefill = [reading.prefill_ratio for reading in readings]
            print(f"{time.strftime('%H:%M:%S', time.gmtime()):<10}{now - begin:>6.0f}s{len(readings):>8}"
                  f"{statistics.median(decode):>18.2f}{min(decode):>7.2f}{max(decode):>7.2f}"
                  f"{statistics.median(prefill):>19.2f}{min(prefill):>7.2f}{max(prefill):>7.2f}")
            readings, window_start = [], time.perf_counter()


if __name__ == "__main__":
    main()
