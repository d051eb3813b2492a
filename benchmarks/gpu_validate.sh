#!/usr/bin/env bash
# One prepared GPU validation (issue 18): calibrate Llama-2-7B + Llama-68M shapes (random weights,
# bf16, quick grid) on the GPU at hand, then `specsim validate scenarios/validate-gpu.yaml` — 2 loads
# × none, fixed:k=4, adaptive, synthetic acceptance, 2 real runs per point — in ≤ 8 minutes on an
# H100. Writes profile.json, errors.txt, errors.csv and report.html to $OUT (default gpu-validate).
#
#   bash benchmarks/gpu_validate.sh             # on the GPU machine (the `device` tool)
#   bash benchmarks/gpu_validate.sh --cpu-tiny  # the same steps, tiny shapes on a CPU (the suite runs
#                                               # it so that the script cannot rot)
#
# On the device machine, packages it lacks travel as wheels in .whl (the device README); they are
# installed to /tmp/site first. Its image (2026-11) lacked simpy, pydantic and plotly; here, once:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl simpy pydantic \
#       pydantic-core annotated-types typing-inspection plotly
# then run it with `carry: [".whl"]`. Exit 0 whatever the verdict (it is in errors.txt): the
# script failed only if a step did.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-validate}
if [ -d .whl ] && ls .whl/*.whl > /dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
python3 - <<'PY'
import importlib.metadata, sys
missing = []
for name in ("torch", "transformers", "accelerate", "simpy", "numpy", "scipy", "pandas", "plotly", "click",
             "pydantic", "pyyaml", "tqdm"):
    try:
        print(name, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit(f"gpu_validate: missing packages: {', '.join(missing)} (carry them as wheels in .whl)")
import torch
print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu only")
PY
if [ "${1:-}" = "--cpu-tiny" ]; then
    arguments=(--device cpu --threads 1 --target tiny-target --draft tiny-draft --loads 1.0
               --policies "none fixed:k=4" --set workload.duration_s=2 --set workload.output_tokens.low=8
               --set workload.output_tokens.high=16 --set drain_s=30)
else
    arguments=(--device cuda --target llama2-7b --draft llama-68m --gpu h100)
fi
mkdir -p "$OUT"
# random weights have no tokenizer: prompts as token ids (below every vocabulary here), per category
python3 - "$OUT/prompts.jsonl" <<'PY'
import json, random, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as file:
    for category in ("chat", "code"):
        for _ in range(32):
            ids = [rng.randrange(10, 990) for _ in range(rng.randrange(24, 96))]
            file.write(json.dumps({"category": category, "token_ids": ids}) + "\n")
PY
started=$(date +%s)
status=0
python3 -m specsim validate scenarios/validate-gpu.yaml --calibrate --repeats 2 --quiet --out "$OUT" \
    --dataset "$OUT/prompts.jsonl" --prompts "$OUT/prompts.jsonl" "${arguments[@]}" > "$OUT/validate.log" 2>&1 || status=$?
tail -n 25 "$OUT/validate.log"
echo "gpu_validate: $(( $(date +%s) - started )) s, validate exit $status (0 pass, 1 fail, 3 unresolved)"
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ] && [ "$status" -ne 3 ]; then
    exit "$status"
fi
