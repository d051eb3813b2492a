"""Fit and write the shipped `h100-llama2-7b-vllm` profile: the H100 roofline of Llama-2-7B (with
the Llama-68M draft) whose engine coefficients are fitted to real vLLM runs — the two Llama-2-7B
TP1 runs of inference-sim/training (codegen, roleplay) in tests/fixtures/inference-perf/, and
only those (every other run of that collection is kept back as the check of the fit).

    python benchmarks/make_vllm_profile.py            # fits (about 1.5 min), writes the file
    python benchmarks/make_vllm_profile.py --check    # fails if the file would change

What the command line does, from the repository root:
    specsim calibrate --gpu h100 --target llama2-7b --draft llama-68m --name h100-llama2-7b-vllm \\
        --from-benchmark tests/fixtures/inference-perf/20260217-155451-llama-2-7b-tp1-codegen \\
        --from-benchmark tests/fixtures/inference-perf/20260217-162547-llama-2-7b-tp1-roleplay \\
        --out specsim/profiles/h100-llama2-7b-vllm.json
Deterministic: the date is fixed and the paths are relative, so a re-run gives the same bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.fit_engine import fit_engine, fitted_profile  # noqa: E402
from specsim.measured import read_benchmark  # noqa: E402
from specsim.profile import SHIPPED_DIR, save_profile  # noqa: E402
from specsim.profile.published import published_acceptance  # noqa: E402

NAME = "h100-llama2-7b-vllm"
SHIPPED_DATE = "2026-12-06"
RUNS = ("tests/fixtures/inference-perf/20260217-155451-llama-2-7b-tp1-codegen",
        "tests/fixtures/inference-perf/20260217-162547-llama-2-7b-tp1-roleplay")


def build(out_dir: Path) -> Path:
    os.chdir(ROOT)  # the profile names its runs by these relative paths
    runs = [read_benchmark(path) for path in RUNS]
    acceptance = published_acceptance()
    result = fit_engine(runs, "h100", "llama2-7b", "llama-68m", acceptance,
                        on_evaluation=lambda n, error: print(f"  simulation {n}: mean |error| {error:.2%}",
                                                             file=sys.stderr))
    profile = fitted_profile(result, runs, "h100", "llama2-7b", "llama-68m", acceptance, "vllm", name=NAME,
                             date=SHIPPED_DATE)
    return save_profile(profile, out_dir / f"{NAME}.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args()
    if not args.check:
        print(f"wrote {build(SHIPPED_DIR)}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        made = build(Path(scratch))
        same = made.read_bytes() == (SHIPPED_DIR / made.name).read_bytes()
    if not same:
        print(f"out of date: {made.name}; run benchmarks/make_vllm_profile.py", file=sys.stderr)
        return 1
    print(f"{made.name} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
