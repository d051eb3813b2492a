"""Regenerate the shipped roofline profiles in specsim/profiles/.

    python benchmarks/make_roofline_profiles.py            # writes the files
    python benchmarks/make_roofline_profiles.py --check    # fails if a file would change

Deterministic: the date is fixed and every number is rounded to six significant digits, so a
re-run reproduces the files byte for byte. Never edit the JSON by hand; change the model and
re-run this.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

# Run from a checkout: make the repository root importable without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from specsim.profile import SHIPPED_DIR, save_profile
from specsim.profile.published import published_acceptance
from specsim.profile.published_eagle import eagle_acceptance
from specsim.profile.roofline import roofline_profile

SHIPPED_DATE = "2026-11-23"
TENSOR_PARALLEL_DATE = "2026-12-06"
# (gpu, target, draft): the default profile (h100) and the what-if hardware sweeps use.
SHIPPED = [
    ("h100", "llama2-7b", "llama-68m"),
    ("a100", "llama2-7b", "llama-68m"),
    ("h200", "llama2-7b", "llama-68m"),
    ("l40s", "llama2-7b", "llama-68m"),
]
# every later pair on the mission's A100 and on H100 and H200
DATACENTER_GPUS = ("a100", "h100", "h200")
# (target, draft, GPUs): the SpecServe paper's multi-GPU setups (arXiv 2503.05096)
SHIPPED_TENSOR_PARALLEL = [
    ("vicuna-33b", "llama-160m", 4),
    ("llama3.3-70b", "llama3.2-1b", 8),
]


SGLANG_REFERENCE = ("reference: SGLang docs (EAGLE-3), Llama-3.1-8B-Instruct on one H100, batch 1, MT-Bench: "
                    "6.32 ms per step without speculation, x2.36 with EAGLE-3 (a tree; "
                    "benchmarks/eagle_batch1.py compares)")


def build(out_dir: Path) -> list[Path]:
    acceptance = published_acceptance()
    written = []
    for gpu, target, draft in SHIPPED:
        profile = roofline_profile(gpu, target, draft, dtype="bf16", acceptance=acceptance, date=SHIPPED_DATE)
        written.append(save_profile(profile, out_dir / f"{profile.name}.json"))
    for gpu, (target, draft, gpus) in itertools.product(DATACENTER_GPUS, SHIPPED_TENSOR_PARALLEL):
        # nobody publishes per-position acceptance for these pairs: the 7B/68M curves stand in,
        # said in the curves' citations and the notes (a larger pair accepts more)
        stand_in = (f"stand-in: the curves above are LLaMA-2-7B/LLaMA-68M's, used for {target}/{draft} "
                    "for want of published per-position acceptance; a pair this size accepts more")
        profile = roofline_profile(
            gpu, target, draft, dtype="bf16", date=TENSOR_PARALLEL_DATE, tensor_parallel=gpus,
            acceptance=acceptance.model_copy(update={"citations": [*acceptance.citations, stand_in]}),
            acceptance_note=f"Acceptance is a stand-in ({stand_in}); read speed-ups relative to each "
            "other, not as this pair's own.")
        written.append(save_profile(profile, out_dir / f"{profile.name}.json"))
    for gpu in DATACENTER_GPUS:
        profile = roofline_profile(gpu, "llama3.1-8b", "llama3.1-8b-eagle3", dtype="bf16",
                                   acceptance=eagle_acceptance(), date=TENSOR_PARALLEL_DATE,
                                   name=f"{gpu}-llama3.1-8b-eagle3")
        if gpu == "h100":
            profile = profile.model_copy(update={"citations": [*profile.citations, SGLANG_REFERENCE]})
        written.append(save_profile(profile, out_dir / f"{profile.name}.json"))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped files, write nothing")
    args = parser.parse_args()
    if not args.check:
        for path in build(SHIPPED_DIR):
            print(f"wrote {path}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        stale = [path.name for path in build(Path(scratch))
                 if not (SHIPPED_DIR / path.name).exists()
                 or path.read_bytes() != (SHIPPED_DIR / path.name).read_bytes()]
    if stale:
        print(f"out of date: {', '.join(stale)}; run benchmarks/make_roofline_profiles.py", file=sys.stderr)
        return 1
    print("shipped roofline profiles are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
