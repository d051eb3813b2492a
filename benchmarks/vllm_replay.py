"""How far is specsim from real vLLM runs? Replays measured vLLM runs (inference-perf run folders
or `vllm bench serve --save-result` JSONs) in the simulator on several profiles and prints, per
load stage and metric, the real value and each profile's error.

    python benchmarks/vllm_replay.py                 # the two fit runs shipped as test fixtures
    python benchmarks/vllm_replay.py RUN [RUN ...]   # any runs (e.g. ones kept back from the fit)

Profiles compared:
    separate   the shipped H100 roofline as the simulator priced every step before the engine
               model: draft, verify and a separate prefill forward, no prefix cache, no time
               outside the steps
    fused      the same roofline, unfitted, as a vLLM V1-like engine: one fused forward per step,
               prefix caching, the roofline's assumed fixed costs
    fitted     h100-llama2-7b-vllm: fused, its coefficients fitted to the two fixture runs
Requests/s is the benchmark's own definition (successful requests / (last finish − first send)).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.fit_engine import replay  # noqa: E402
from specsim.measured import read_benchmark  # noqa: E402
from specsim.profile import load_profile  # noqa: E402
from specsim.profile.roofline import roofline_profile  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "inference-perf"
SHOWN = (("mean_e2e_s", "mean E2E"), ("mean_ttft_s", "mean TTFT"), ("median_tpot_s", "median TPOT"),
         ("requests_per_s", "requests/s"))


def profiles() -> dict[str, object]:
    roofline = load_profile("h100-llama2-7b-llama-68m")
    return {
        "separate": roofline_profile("h100", "llama2-7b", "llama-68m", acceptance=roofline.acceptance,
                                     composition="separate"),
        "fused": roofline_profile("h100", "llama2-7b", "llama-68m", acceptance=roofline.acceptance),
        "fitted": load_profile("h100-llama2-7b-vllm"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="run folders or result files (default: the fixture runs)")
    args = parser.parse_args(argv)
    paths = args.runs or sorted(str(path) for path in FIXTURES.iterdir() if path.is_dir())
    candidates = profiles()
    print(f"{'run: stage':<44} {'metric':<12} {'real':>9}" + "".join(f" {name:>9}" for name in candidates))
    for path in paths:
        run = read_benchmark(path)
        simulated = {name: replay(run, profile) for name, profile in candidates.items()}
        for index, stage in enumerate(run.stages):
            where = f"{run.name.split('-', 2)[-1]}: {stage.name}"
            for metric, label in SHOWN:
                real = stage.measured[metric]
                errors = "".join(f" {simulated[name][index][metric] / real - 1:>+9.1%}"
                                 for name in candidates)
                print(f"{where:<44} {label:<12} {real:>9.4g}{errors}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
