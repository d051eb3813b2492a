"""Read a `vllm bench serve --save-result` JSON (`benchmark_serving.py` before it moved into
vLLM's CLI writes the same fields): per request the prompt and output lengths, the TTFT and the
inter-token latencies, and the run's request rate and burstiness.

The requests are rebuilt from them: arrivals from `start_times` where the file has them (newer
vLLM), else drawn as vLLM's benchmark draws them — gamma gaps with shape `burstiness` and mean
1 / `request_rate` (all at once for an infinite rate) — from the fit's seed. A request's E2E is
its TTFT plus its inter-token latencies. Failed requests (an `errors` entry) are left out of the
measured metrics, as vLLM's are, but are still sent in the replay.

Closed-loop runs (`max_concurrency` below the number of prompts) are refused: the simulator's
clients send on a schedule, not when an answer comes back.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specsim.errors import SpecsimError
from specsim.measured.runs import MeasuredRun, Stage, stage_metrics
from specsim.workload.requests import Requests

PER_REQUEST = ("input_lens", "output_lens", "ttfts", "itls")


def is_vllm_bench_result(document: Any) -> bool:
    return isinstance(document, dict) and all(key in document for key in PER_REQUEST)


def read_vllm_bench(path: Path, document: dict[str, Any], max_num_seqs: int, max_num_batched_tokens: int,
                    seed: int = 0) -> MeasuredRun:
    lengths = {key: document[key] for key in PER_REQUEST}
    if not all(isinstance(value, list) for value in lengths.values()):
        raise SpecsimError(f"{path}: {', '.join(PER_REQUEST)}: must be lists, one entry per request")
    count = len(lengths["input_lens"])
    for key, values in lengths.items():
        if len(values) != count:
            raise SpecsimError(f"{path}: {key}: {len(values)} entries, but input_lens has {count}")
    if count == 0:
        raise SpecsimError(f"{path}: input_lens: the run has no requests")
    errors = document.get("errors") or [""] * count
    if not isinstance(errors, list) or len(errors) != count:
        raise SpecsimError(f"{path}: errors: must be a list with one entry per request")
    failed = np.array([bool(error) for error in errors])
    prompt = _lengths(path, "input_lens", lengths["input_lens"], minimum=1)
    output = _lengths(path, "output_lens", lengths["output_lens"], minimum=0)
    ttft = _seconds(path, "ttfts", lengths["ttfts"])
    itls = lengths["itls"]
    decode_s = np.zeros(count)
    for index, gaps in enumerate(itls):
        if not isinstance(gaps, list) or not all(isinstance(g, (int, float)) and g >= 0 for g in gaps):
            raise SpecsimError(f"{path}: itls.{index}: must be a list of inter-token latencies ≥ 0 (seconds)")
        decode_s[index] = float(sum(gaps))
    ok = ~failed & (output >= 1)
    if not ok.any():
        raise SpecsimError(f"{path}: errors: no request of the run succeeded; there is nothing to compare")
    arrival_s = _arrivals(path, document, count, seed)
    finish_s = arrival_s + ttft + decode_s
    table = pd.DataFrame({
        "arrival_s": arrival_s, "finish_s": np.where(ok, finish_s, np.nan), "ttft_s": ttft,
        "e2e_s": ttft + decode_s, "output_tokens": output,
    })
    order = np.argsort(arrival_s, kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    # a failed request still reached the server; replay it for the output it asked of it
    requested = np.where(ok, output, np.maximum(output, 1))[order]
    requests = Requests(arrival_s=arrival_s[order], prompt_tokens=prompt[order], output_tokens=requested,
                        category=np.zeros(count, dtype=np.int64), categories=("chat",))
    rate = document.get("request_rate", "inf")
    label = f"{rate} req/s" if rate not in (None, "inf", math.inf) else "all at once"
    notes = [f"{int(failed.sum())} failed requests replayed but not measured"] if failed.any() else []
    if "start_times" not in document:
        burstiness = document.get("burstiness", 1.0)
        notes.append(f"arrivals drawn from request_rate {rate} and burstiness {burstiness}")
    stage = Stage(label, 0, count, stage_metrics(table, 0, count))
    return MeasuredRun(name=path.stem, source=path, benchmark="vllm-bench", requests=requests, stages=[stage],
                       max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens, notes=notes)


def _arrivals(path: Path, document: dict[str, Any], count: int, seed: int) -> np.ndarray:
    concurrency = document.get("max_concurrency")
    if concurrency not in (None, "null") and isinstance(concurrency, (int, float)) and concurrency < count:
        raise SpecsimError(f"{path}: max_concurrency: {concurrency} clients waiting for their answers "
                           "(a closed loop) cannot be replayed; the simulator sends requests on a schedule")
    starts = document.get("start_times")
    if starts is not None:
        start_s = _seconds(path, "start_times", starts, allow_negative=True)
        if len(start_s) != count:
            raise SpecsimError(f"{path}: start_times: {len(start_s)} entries, but input_lens has {count}")
        return start_s - start_s.min()
    rate = document.get("request_rate", "inf")
    if rate in ("inf", None) or (isinstance(rate, (int, float)) and math.isinf(rate)):
        return np.zeros(count)
    burstiness = document.get("burstiness", 1.0)
    if not isinstance(rate, (int, float)) or rate <= 0:
        raise SpecsimError(f"{path}: request_rate: must be a number > 0 or \"inf\", got {rate!r}")
    if not isinstance(burstiness, (int, float)) or burstiness <= 0:
        raise SpecsimError(f"{path}: burstiness: must be a number > 0, got {burstiness!r}")
    gaps = np.random.default_rng(seed).gamma(burstiness, 1.0 / (rate * burstiness), count)
    return np.concatenate([[0.0], np.cumsum(gaps[:-1])])


def _lengths(path: Path, name: str, values: list[Any], minimum: int) -> np.ndarray:
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in values):
        raise SpecsimError(f"{path}: {name}: every entry must be an integer ≥ {minimum}")
    return np.asarray(values, dtype=np.int64)


def _seconds(path: Path, name: str, values: Any, allow_negative: bool = False) -> np.ndarray:
    if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and (allow_negative or v >= 0) for v in values):
        raise SpecsimError(f"{path}: {name}: every entry must be a finite number of seconds")
    return np.asarray(values, dtype=np.float64)
