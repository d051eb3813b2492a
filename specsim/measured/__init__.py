"""Benchmark results of real serving engines, read into runs specsim can replay and compare
(`specsim calibrate --from-benchmark` fits an engine's coefficients to them)."""

from __future__ import annotations

import json
from pathlib import Path

from specsim.errors import SpecsimError
from specsim.measured.inference_perf import (
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    is_inference_perf_run,
    read_inference_perf,
)
from specsim.measured.runs import FITTED_METRICS, METRICS, MeasuredRun, Stage, stage_metrics
from specsim.measured.vllm_bench import is_vllm_bench_result, read_vllm_bench

__all__ = ["FITTED_METRICS", "METRICS", "MeasuredRun", "Stage", "read_benchmark", "stage_metrics"]

FORMATS = "an inference-perf run folder (results/config.yaml and stage metrics) or a `vllm bench serve " \
          "--save-result` JSON"


def read_benchmark(path: str | Path, seed: int = 0, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
                   max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS) -> MeasuredRun:
    """One benchmark run, whichever tool wrote it. `max_num_seqs` and `max_num_batched_tokens`
    are the server's limits where the run's files do not state them."""
    path = Path(path)
    if is_inference_perf_run(path):
        return read_inference_perf(path, seed)
    if path.is_dir():
        raise SpecsimError(f"{path}: a folder without results/config.yaml; give {FORMATS}")
    if not path.is_file():
        raise SpecsimError(f"{path}: no such file or folder")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = type(error).__name__
        raise SpecsimError(f"{path}: not a benchmark result ({reason}); give {FORMATS}") from None
    if is_vllm_bench_result(document):
        return read_vllm_bench(path, document, max_num_seqs, max_num_batched_tokens, seed)
    if isinstance(document, dict) and "load_summary" in document:
        raise SpecsimError(f"{path}: one stage of an inference-perf run; give the run's folder (the one "
                           "holding results/config.yaml)")
    raise SpecsimError(f"{path}: not a benchmark result this specsim reads; give {FORMATS}")
