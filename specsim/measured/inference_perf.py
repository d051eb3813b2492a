"""Read an inference-perf run (kubernetes-sigs/inference-perf): the folder that holds
`results/config.yaml` (the configuration it ran), one `results/stage_N_lifecycle_metrics.json`
per load stage and, where the run comes from the inference-sim collection, `exp-config.yaml`
(the vLLM server's limits).

The requests are rebuilt from the configuration: `load.stages` (rate × duration requests each;
`constant` sends them evenly spaced, `poisson` at random), the `shared_prefix` data generator (a
pool of groups × prompts per group, request n sending pooled prompt n mod pool size; each pooled
prompt's length read off the stage's `prompt_len` percentiles), and `ignore_eos` with
`output_len` (every request generates exactly that many tokens). A stage starts once the one
before has sent its requests and seen its slowest one finish (inference-perf waits for them).

What a stage measured: E2E and TTFT as reported. TPOT is not taken from `time_per_output_token`:
inference-perf divides a request's streaming time by its stream events, and an engine may send
more events than tokens. The mean per-token time is (mean E2E − mean TTFT) / (tokens − 1),
exact since every request has the same token count; the median is the reported median rescaled
by the events per token that the means give (printed in the run's notes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from specsim.errors import SpecsimError
from specsim.measured.runs import MeasuredRun, Stage
from specsim.safe_yaml import YamlTooLarge, load_yaml
from specsim.workload.prefixes import prompt_pool
from specsim.workload.requests import Requests

# vLLM's own defaults (SchedulerConfig), where the run does not state the server's limits
DEFAULT_MAX_NUM_SEQS = 128
DEFAULT_MAX_NUM_BATCHED_TOKENS = 2048
# the percentiles inference-perf writes, in order
PERCENTILES = (("min", 0.0), ("p0.1", 0.1), ("p1", 1.0), ("p5", 5.0), ("p10", 10.0), ("p25", 25.0),
               ("median", 50.0), ("p75", 75.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0),
               ("p99.9", 99.9), ("max", 100.0))


def is_inference_perf_run(path: Path) -> bool:
    return path.is_dir() and (path / "results" / "config.yaml").is_file()


def read_inference_perf(folder: Path, seed: int = 0) -> MeasuredRun:
    config_path = folder / "results" / "config.yaml"
    config = _yaml(config_path)
    data, load, server = (_section(config, name, config_path) for name in ("data", "load", "server"))
    if data.get("type") != "shared_prefix":
        raise SpecsimError(f"{config_path}: data.type: {data.get('type')!r} is not read yet "
                           "(shared_prefix is)")
    shared = _section(data, "shared_prefix", config_path, "data.")
    if server.get("ignore_eos") is not True:
        raise SpecsimError(f"{config_path}: server.ignore_eos: must be true — without it the tokens each "
                           "request generated are not in the run's files")
    load_type = load.get("type")
    if load_type not in ("constant", "poisson"):
        raise SpecsimError(f"{config_path}: load.type: {load_type!r} is not read (constant or poisson are)")
    stages_config = load.get("stages")
    if not isinstance(stages_config, list) or not stages_config:
        raise SpecsimError(f"{config_path}: load.stages: a list of {{rate, duration}} stages is required")
    output_tokens = _positive_int(shared, "output_len", config_path, "data.shared_prefix.")
    groups = _positive_int(shared, "num_groups", config_path, "data.shared_prefix.")
    per_group = _positive_int(shared, "num_prompts_per_group", config_path, "data.shared_prefix.")
    system_tokens = _positive_int(shared, "system_prompt_len", config_path, "data.shared_prefix.", minimum=0)

    rng = np.random.default_rng(seed)
    arrivals: list[np.ndarray] = []
    stages: list[Stage] = []
    notes: list[str] = []
    prompt_quantiles = None
    start_s = 0.0
    for index, stage_config in enumerate(stages_config):
        where = f"load.stages.{index}."
        rate = _positive_number(stage_config, "rate", config_path, where)
        duration_s = _positive_number(stage_config, "duration", config_path, where)
        metrics_path = folder / "results" / f"stage_{index}_lifecycle_metrics.json"
        metrics = _json(metrics_path)
        count = int(rate * duration_s)  # inference-perf sends int(rate × duration) requests
        gaps = np.full(count, 1.0 / rate) if load_type == "constant" else rng.exponential(1.0 / rate, count)
        sent = start_s + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        measured, stage_notes, slowest_s, quantiles = _stage(metrics, metrics_path, count, output_tokens)
        prompt_quantiles = prompt_quantiles if prompt_quantiles is not None else quantiles
        first = sum(len(a) for a in arrivals)
        arrivals.append(sent)
        stages.append(Stage(f"stage {index} ({rate:g} req/s)", first, first + count, measured))
        notes += [f"stage {index}: {note}" for note in stage_notes]
        start_s = float(sent[-1]) + slowest_s

    arrival_s = np.concatenate(arrivals)
    total = len(arrival_s)
    pool_size = groups * per_group
    pooled = np.round(np.interp((np.arange(pool_size) + 0.5) / pool_size * 100.0,
                                [p for _, p in PERCENTILES], prompt_quantiles)).astype(np.int64)
    pool = prompt_pool(total, groups, per_group, system_tokens, pooled, rng)
    requests = Requests(arrival_s=arrival_s, prompt_tokens=pool.prompt_tokens,
                        output_tokens=np.full(total, output_tokens, dtype=np.int64),
                        category=np.zeros(total, dtype=np.int64), categories=("chat",),
                        prefix=pool.prefix, prefixes=pool.tree)
    seqs, tokens = _server_limits(folder / "exp-config.yaml")
    notes.append(f"prompts: a pool of {groups} × {per_group} with {system_tokens}-token system prompts, "
                 f"lengths from stage 0's prompt_len percentiles; every request generates {output_tokens}")
    return MeasuredRun(name=folder.name, source=folder, benchmark="inference-perf", requests=requests,
                       stages=stages, max_num_seqs=seqs, max_num_batched_tokens=tokens, notes=notes)


def _stage(metrics: dict[str, Any], path: Path, count: int,
           output_tokens: int) -> tuple[dict[str, float], list[str], float, list[float]]:
    successes = _section(metrics, "successes", path)
    succeeded = successes.get("count")
    if not isinstance(succeeded, int) or succeeded <= 0:
        raise SpecsimError(f"{path}: successes.count: the stage has no successful request to compare with")
    if succeeded > count:
        raise SpecsimError(f"{path}: successes.count: {succeeded} requests, but the configuration sends "
                           f"{count} in this stage")
    latency = _section(successes, "latency", path, "successes.")
    e2e = _summary(latency, "request_latency", path)
    ttft = _summary(latency, "time_to_first_token", path)
    tpot = _summary(latency, "time_per_output_token", path)
    prompt = _summary(successes, "prompt_len", path, "successes.")
    throughput = _section(successes, "throughput", path, "successes.")
    requests_per_s = throughput.get("requests_per_sec")
    if not isinstance(requests_per_s, (int, float)) or requests_per_s <= 0:
        raise SpecsimError(f"{path}: successes.throughput.requests_per_sec: must be a positive number")
    decode_s = e2e["mean"] - ttft["mean"]
    if output_tokens < 2 or decode_s <= 0:
        raise SpecsimError(f"{path}: successes.latency: mean request_latency must exceed mean "
                           "time_to_first_token over more than one token")
    per_token_s = decode_s / (output_tokens - 1)
    events_per_token = (decode_s / tpot["mean"] + 1.0) / output_tokens
    measured = {
        "mean_e2e_s": e2e["mean"], "mean_ttft_s": ttft["mean"], "median_ttft_s": ttft["median"],
        "mean_tpot_s": per_token_s, "median_tpot_s": tpot["median"] * per_token_s / tpot["mean"],
        "requests_per_s": float(requests_per_s),
    }
    notes = [f"{events_per_token:.3f} stream events per token (time_per_output_token rescaled by it)"]
    failures = metrics.get("failures", {}).get("count", 0) if isinstance(metrics.get("failures"), dict) else 0
    if failures:
        notes.append(f"{failures} failed requests left out, as the benchmark's own metrics do")
    quantiles = [prompt[name] for name, _ in PERCENTILES]
    return measured, notes, e2e["max"], quantiles


def _summary(section: dict[str, Any], name: str, path: Path,
             where: str = "successes.latency.") -> dict[str, float]:
    summary = section.get(name)
    if not isinstance(summary, dict):
        raise SpecsimError(f"{path}: {where}{name}: missing (is this an inference-perf lifecycle "
                           "metrics file?)")
    values = {}
    for key in ("mean", *(key for key, _ in PERCENTILES)):
        value = summary.get(key)
        if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise SpecsimError(f"{path}: {where}{name}.{key}: must be a number ≥ 0, got {value!r}")
        values[key] = float(value)
    return values


def _server_limits(path: Path) -> tuple[int, int]:
    if not path.is_file():
        return DEFAULT_MAX_NUM_SEQS, DEFAULT_MAX_NUM_BATCHED_TOKENS
    config = _yaml(path)
    return (_positive_int(config, "max_num_seqs", path, "", default=DEFAULT_MAX_NUM_SEQS),
            _positive_int(config, "max_num_batched_tokens", path, "", default=DEFAULT_MAX_NUM_BATCHED_TOKENS))


def _yaml(path: Path) -> dict[str, Any]:
    try:
        return _mapping(path, load_yaml, "YAML", (yaml.YAMLError,))
    except YamlTooLarge as error:
        raise SpecsimError(f"{path}: {error}") from None


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecsimError(f"{path}: missing: the configuration names this stage but the run has no "
                           "metrics for it")
    return _mapping(path, json.loads, "JSON", (json.JSONDecodeError,))


def _mapping(path: Path, parse: Any, kind: str, errors: tuple[type[Exception], ...]) -> dict[str, Any]:
    try:
        document = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, *errors) as error:
        raise SpecsimError(f"{path}: cannot read it as {kind} ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise SpecsimError(f"{path}: must be a {kind} mapping")
    return document


def _section(document: dict[str, Any], name: str, path: Path, where: str = "") -> dict[str, Any]:
    section = document.get(name)
    if not isinstance(section, dict):
        raise SpecsimError(f"{path}: {where}{name}: missing or not a mapping")
    return section


def _positive_int(document: dict[str, Any], name: str, path: Path, where: str, minimum: int = 1,
                  default: int | None = None) -> int:
    value = document.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecsimError(f"{path}: {where}{name}: must be an integer ≥ {minimum}, got {value!r}")
    return value


def _positive_number(document: Any, name: str, path: Path, where: str) -> float:
    value = document.get(name) if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise SpecsimError(f"{path}: {where}{name}: must be a number > 0, got {value!r}")
    return float(value)
