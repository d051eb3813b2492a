"""`calibrate()`: measure a target/draft pair on this machine and return the Profile (contract 2)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibrate.grid import Grid, clip_to_positions, default_grid, fit_to_memory
from calibrate.hardware import check_gpu_label, cpu_name, resolve_device
from realrun.models import TORCH_DTYPES, resolve_model, weights_kind
from specsim.errors import SpecsimError
from specsim.policy import make_policy
from specsim.policy.simple import FixedLength, NoSpeculation
from specsim.profile import SCHEMA_VERSION, load_profile
from specsim.profile.fit import fit_latency
from specsim.profile.latency import LatencyModel
from specsim.profile.schema import (
    Acceptance,
    DraftFirstPassGrid,
    DraftStepGrid,
    Hardware,
    Latency,
    ModelInfo,
    PrefillGrid,
    Profile,
    VerifyGrid,
)
from specsim.prompts import Prompt, load_prompts

MAX_PROMPT_TOKENS = 1024


@dataclass
class _Notes:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str | None) -> None:
        if line:
            self.lines.append(line)


def calibrate(
    target: str | Path,
    draft: str | Path,
    *,
    gpu: str = "cpu",
    device: str | None = None,
    dtype: str | None = None,
    quick: bool = False,
    grid: Grid | None = None,
    dataset: str | Path | None = None,
    acceptance_from: str | Path | None = None,
    max_draft_tokens: int = 8,
    prompts_per_category: int | None = None,
    new_tokens: int | None = None,
    sampling: bool = True,
    force: bool = False,
    seed: int = 0,
    threads: int | None = None,
    name: str | None = None,
    progress: bool = True,
    cuda_device_name: str | None = None,
    policies: Sequence[str] = (),
) -> Profile:
    """Measure latency (and, for a real-weight pair, acceptance) and return a validated Profile.

    `grid` overrides the default (`quick` picks the coarse one). `dataset` is a prompt JSONL
    (`specsim.prompts`; default: the project's six-category set). `acceptance_from` copies the
    acceptance section of another profile instead of measuring it. `policies`: specs whose own
    per-step host time is measured on the real engine (`latency.policy_step_overhead_s`).
    `cuda_device_name` stands in for the name torch reports (tests)."""
    notes = _Notes()
    # everything a user can get wrong is checked before the models are loaded
    if not 1 <= max_draft_tokens <= 64:
        raise SpecsimError(f"--max-draft-tokens {max_draft_tokens}: must be between 1 and 64")
    target_arch, draft_arch = resolve_model(target, "--target"), resolve_model(draft, "--draft")
    if dtype is not None and dtype not in TORCH_DTYPES:
        raise SpecsimError(f"--dtype {dtype}: expected one of {', '.join(TORCH_DTYPES)}")
    real_pair = weights_kind(target) == "real" and weights_kind(draft) == "real"
    wants_prompts = dataset is not None or (real_pair and acceptance_from is None)
    prompts = _read_dataset(dataset) if wants_prompts else None
    copied = _read_acceptance(acceptance_from) if acceptance_from is not None else None
    for spec in policies:  # an unknown policy or parameter: one line, before any measuring
        make_policy(spec)

    import torch

    from realrun.models import load_model

    cuda_available = cuda_device_name is not None or torch.cuda.is_available()
    kind = resolve_device(gpu, device, cuda_available)
    if kind == "cuda":
        device_name = cuda_device_name or torch.cuda.get_device_name()
        notes.add(check_gpu_label(gpu, device_name, force))
    else:
        device_name = cpu_name()
    if threads is not None and kind == "cpu":
        torch.set_num_threads(threads)
    dtype = dtype or ("float32" if kind == "cpu" else "bfloat16")

    target_model = load_model(target, "--target", kind, dtype, seed)
    draft_model = load_model(draft, "--draft", kind, dtype, seed + 1)
    max_positions = min(int(target_arch.config.get("max_position_embeddings") or 4096),
                        int(draft_arch.config.get("max_position_embeddings") or 4096))
    grid = grid or default_grid(kind, quick, max_draft_tokens)
    grid = clip_to_positions(grid, max_positions, max_draft_tokens)
    if kind == "cuda":
        free_bytes, _ = torch.cuda.mem_get_info()
        both_kv = (target_model.architecture.kv_bytes_per_token(dtype)
                   + draft_model.architecture.kv_bytes_per_token(dtype))  # steps hold both caches
        fitted = fit_to_memory(grid, free_bytes, both_kv)
        if fitted != grid:
            notes.add(f"grid shrunk to fit {free_bytes / 2**30:.1f} GiB free: "
                      f"batch ≤ {fitted.batch_sizes[-1]}, context ≤ {fitted.context_tokens[-1]}")
        grid = fitted

    latency, transient = _measure_latency(target_model, draft_model, grid, kind, TORCH_DTYPES[dtype],
                                          max_draft_tokens, max_positions, progress, notes, list(policies))
    from calibrate.memory import memory_section

    memory = memory_section(target_model, draft_model, kind, max_draft_tokens, transient, max_positions)
    if kind == "cpu":
        notes.add("memory: device memory is the host's RAM; capacity is notional (no transient measured)")

    if copied is not None:
        acceptance = copied
        notes.add(f"acceptance copied from {acceptance_from}")
    elif real_pair:
        acceptance = _measure_acceptance(target_model, draft_model, prompts, dataset, quick, max_draft_tokens,
                                         prompts_per_category, new_tokens, sampling, seed, max_positions,
                                         progress, notes)
    else:
        acceptance = None
        notes.add("acceptance not measured: random weights (latency does not depend on weight values, "
                  "acceptance does); pass --acceptance-from to copy one")

    import transformers

    return Profile(
        schema_version=SCHEMA_VERSION,
        name=name or f"{gpu.strip().lower()}-{target_model.name}-{draft_model.name}",
        source="measured",
        notes="; ".join(notes.lines),
        hardware=Hardware(
            label=gpu.strip().lower(),
            device_name=device_name,
            torch_version=torch.__version__,
            transformers_version=transformers.__version__,
            cuda_version=torch.version.cuda if kind == "cuda" else None,
            date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        ),
        target=_model_info(target_model),
        draft=_model_info(draft_model),
        latency=latency,
        memory=memory,
        acceptance=acceptance,
    )


def _read_dataset(dataset: str | Path | None) -> dict[str, list[Prompt]]:
    if dataset is not None and not Path(dataset).is_file():
        raise SpecsimError(f"--dataset {dataset}: no such file")
    return load_prompts(dataset)


def _read_acceptance(path: str | Path) -> Acceptance:
    if not Path(path).is_file():
        raise SpecsimError(f"--acceptance-from {path}: no such file")
    profile = load_profile(path)
    if profile.acceptance is None:
        raise SpecsimError(f"--acceptance-from {path}: the profile has no acceptance section")
    return profile.acceptance


def _model_info(loaded) -> ModelInfo:
    return ModelInfo(name=loaded.name, architecture=loaded.recorded_architecture(),
                     parameters=loaded.parameters, dtype=loaded.dtype, weights=loaded.weights)


def _measure_latency(target, draft, grid: Grid, device: str, dtype, max_draft_tokens: int, max_positions: int,
                     progress: bool, notes: _Notes, policies: list[str]) -> tuple[Latency, int]:
    import torch
    from tqdm import tqdm

    from calibrate.latency import DecodeWalks, PrefillWalks, warm_up
    from calibrate.memory import transient_bytes
    from calibrate.serving import (
        IDLE_S,
        RUN_S,
        SPREAD_QUANTILES,
        WAKE_PROMPT_TOKENS,
        decode_steps,
        host_overhead_s,
        measure_idle_wake,
        measure_policy_overheads,
        step_time_persistence,
        step_time_spread,
    )
    from calibrate.timing import Timer

    timer = Timer(device, grid.warmup, grid.repeats, grid.budget_s, grid.passes)
    if device == "cuda":  # interleave as many batch sizes as a quarter of the free memory holds
        interleave_bytes = int(0.25 * torch.cuda.mem_get_info()[0])
    else:
        interleave_bytes = 512 * 2**20
    bar = tqdm(total=grid.points(), desc="latency grid", unit="point", disable=not progress)
    tick: Callable[[], object] = lambda: bar.update(1)  # noqa: E731
    with bar:
        models = (target.model, draft.model)
        for model in models:
            warm_up(model, device, seconds=2.0 if device == "cuda" else 0.3)
        prefill = PrefillWalks(*models, grid.prefill_batch_sizes, grid.prefill_prompt_tokens, timer, dtype,
                               device, tick)
        decode_walks = DecodeWalks(*models, grid.batch_sizes, grid.tokens_per_request, grid.context_tokens,
                                   timer, dtype, device, tick, interleave_bytes, grid.first_pass_tokens)
        # the two grids' walks alternate, so each spans the whole measurement: a slow spell of a
        # shared machine spoils a walk of each grid, not a whole grid (one calibration's prefill
        # grid read x1.5 slow against a probe right after it when the grids were timed one after
        # the other, VALIDATION.md)
        for _ in range(grid.passes):
            prefill.walk()
            decode_walks.walk()
    prefill_target, prefill_draft = prefill.times()
    decode = decode_walks.times()
    walk_spread = {kind: spread for kind, spread in (("decode", decode_walks.walk_spread()),
                                                     ("prefill", prefill.walk_spread()))
                   if not math.isnan(spread)}
    if walk_spread:
        notes.add(f"grid_walk_spread: a point's {grid.passes} walks' medians differ by "
                  + " and ".join(f"{100 * spread:.0f}% ({kind})" for kind, spread in walk_spread.items())
                  + " of its median, at the median point")
    middle_batch = grid.batch_sizes[len(grid.batch_sizes) // 2]
    overhead_k = min(4, max_draft_tokens)
    generic_runs = [
        decode_steps(target.model, draft.model, policy, middle_batch, RUN_S, device, max_positions)
        for policy in (FixedLength(overhead_k), NoSpeculation())]
    step_overhead, plain_overhead = [host_overhead_s(steps) for steps in generic_runs]
    notes.add(f"step_overhead_s / plain_step_overhead_s: the real engine's host time per decode step outside "
              f"its backend calls, fixed k = {overhead_k} / plain decoding, batch {middle_batch}, "
              f"{RUN_S:g} s of serving each")
    spread = step_time_spread(generic_runs)
    persistence = step_time_persistence(generic_runs)  # 0 where the spread is empty: too few steps
    if spread:
        notes.add(f"step_time_spread: {SPREAD_QUANTILES} quantiles of a step's time over its run's median, "
                  f"from the same {sum(len(steps) for steps in generic_runs)} steps "
                  f"(p2.5 ×{spread[0]:.2f}, p97.5 ×{spread[-1]:.2f}); step_time_persistence "
                  f"{persistence:.2f}: their lag-1 autocorrelation")
    else:
        notes.add(f"step_time_spread: not measured (fewer than {2 * SPREAD_QUANTILES} decode steps in "
                  f"{RUN_S:g} s); every simulated step takes its predicted time")
    transient = transient_bytes(target.model, grid.batch_sizes[-1], grid.tokens_per_request[-1],
                                grid.context_tokens[-1], dtype, device)

    batches, contexts = list(grid.batch_sizes), list(grid.context_tokens)
    tokens, widths = list(grid.tokens_per_request), list(grid.first_pass_tokens)
    draft_step, verify, first_pass = decode.draft_step_s, decode.verify_s, decode.first_pass_s
    latency = Latency(
        source="measured",
        timer=timer.name,
        repeats=int(timer.fewest_repeats or 0),
        draft_step=DraftStepGrid(batch_sizes=batches, context_tokens=contexts,
                                 time_s=draft_step,
                                 fit=_fit_decode(batches, [1], contexts, [[row] for row in draft_step])),
        verify=VerifyGrid(batch_sizes=batches, tokens_per_request=tokens, context_tokens=contexts,
                          time_s=verify, fit=_fit_decode(batches, tokens, contexts, verify)),
        prefill_target=_prefill_grid(grid, prefill_target),
        prefill_draft=_prefill_grid(grid, prefill_draft),
        draft_first_pass=DraftFirstPassGrid(batch_sizes=batches, tokens_per_request=widths,
                                            context_tokens=contexts, time_s=first_pass,
                                            fit=_fit_decode(batches, widths, contexts, first_pass)),
        step_overhead_s=step_overhead,
        plain_step_overhead_s=plain_overhead,
    )
    warm = LatencyModel(latency)  # the grids just measured: the policies' cost model, the wake-up's spacing
    wake = measure_idle_wake(target.model, draft.model, FixedLength(overhead_k),
                             warm.prefill_s(1, float(WAKE_PROMPT_TOKENS), True), device)
    idle_wake, idle_wake_s = wake.factor, wake.delay_s
    if math.isnan(idle_wake):  # said in the notes, never a silent default
        idle_wake = idle_wake_s = 0.0
        notes.add(f"idle_wake_factor, idle_wake_s: not measured (the wake-up run lacked a prefill after a "
                  f"{IDLE_S:g} s idle wait or one on a warm engine); set to 0")
    else:
        notes.add(f"idle_wake_factor: prefills that woke the real engine after {IDLE_S:g} s idle took "
                  f"×{1 + idle_wake:.2f} the time of its prefills on a warm engine in the same seconds "
                  "(medians); the simulator slows the first step after idle by it; idle_wake_s: outside "
                  f"their forwards, those steps ended {idle_wake_s * 1e3:.2f} ms later after the arrival "
                  "that woke the engine than a warm prefill step's host time (median)")
    prefill_step_overhead: float | None = wake.prefill_step_overhead_s
    if math.isnan(wake.prefill_step_overhead_s):
        prefill_step_overhead = None
        notes.add("prefill_step_overhead_s: not measured (no prefill-only step); plain_step_overhead_s "
                  "stands for it")
    else:
        notes.add("prefill_step_overhead_s: the real engine's host time per prefill-only step on a warm "
                  "engine, the same run (median)")
    policy_overheads = measure_policy_overheads(target.model, draft.model, policies, middle_batch, device,
                                                max_positions, warm)
    if policy_overheads:
        notes.add(f"policy_step_overhead_s: the real engine's host time per decode step serving each of "
                  f"{', '.join(policy_overheads)} (its cost model: this profile's latency), batch "
                  f"{middle_batch}, {RUN_S:g} s each")
    update = {"idle_wake_factor": idle_wake, "idle_wake_s": idle_wake_s,
              "prefill_step_overhead_s": prefill_step_overhead, "policy_step_overhead_s": policy_overheads,
              "step_time_spread": spread, "step_time_persistence": persistence,
              "grid_walk_spread": walk_spread}
    return latency.model_copy(update=update), transient


def _fit_decode(batches, tokens, contexts, times):
    b, q, c = np.meshgrid(batches, tokens, contexts, indexing="ij")
    return fit_latency(b, q, c, np.asarray(times))


def _prefill_grid(grid: Grid, times) -> PrefillGrid:
    b, p = np.meshgrid(grid.prefill_batch_sizes, grid.prefill_prompt_tokens, indexing="ij")
    # prefill convention of fit_latency: tokens per request = context = prompt tokens
    fit = fit_latency(b, p, p, np.asarray(times))
    return PrefillGrid(batch_sizes=list(grid.prefill_batch_sizes),
                       prompt_tokens=list(grid.prefill_prompt_tokens), time_s=times, fit=fit)


def _measure_acceptance(target, draft, prompts, dataset, quick, max_draft_tokens, prompts_per_category,
                        new_tokens, sampling, seed, max_positions, progress, notes) -> Acceptance:
    from tqdm import tqdm

    from calibrate.acceptance import AcceptanceRun, speculate_prompts
    from calibrate.acceptance_stats import summarise

    source = str(dataset) if dataset is not None else "the built-in prompt set"
    vocab = min(target.architecture.vocab, draft.architecture.vocab)
    tokenizer = target.tokenizer or draft.tokenizer
    per_category = prompts_per_category or (8 if quick else None)
    new_tokens = new_tokens or (64 if quick else 128)
    longest_prompt = max(1, min(MAX_PROMPT_TOKENS, max_positions - new_tokens - 2 * (max_draft_tokens + 1)))
    encoded = {category: [_encode(p, tokenizer, vocab, source, target.name)[-longest_prompt:]
                          for p in rows[:per_category]] for category, rows in prompts.items()}
    modes = [False, True] if sampling else [False]
    total = sum(len(rows) for rows in encoded.values()) * len(modes)
    curves: dict[bool, dict] = {mode: {} for mode in modes}
    with tqdm(total=total, desc="acceptance", unit="prompt", disable=not progress) as bar:
        for mode in modes:
            run = AcceptanceRun(max_draft_tokens, new_tokens, sampling=mode, seed=seed)
            for category, rows in encoded.items():
                records = speculate_prompts(target.model, draft.model, rows, run, progress=bar)
                curves[mode][category] = summarise(records)
    notes.add(f"acceptance: {source}, {per_category or 'all'} prompts per category, {new_tokens} new tokens "
              f"each, {max_draft_tokens} drafted per step, batch 1")
    categories = list(curves[False])
    return Acceptance(
        source="measured",
        max_draft_tokens=max_draft_tokens,
        default_category="chat" if "chat" in categories else categories[0],
        greedy=curves[False],
        sampling=curves.get(True),
    )


def _encode(prompt: Prompt, tokenizer, vocab: int, source: str, model_name: str) -> list[int]:
    if prompt.token_ids is not None:
        ids = list(prompt.token_ids)
        outside = [i for i in ids if i >= vocab]
        if outside:
            raise SpecsimError(f"{source}: category {prompt.category}: token id {outside[0]} is outside the "
                               f"models' vocabulary ({vocab} tokens)")
        return ids
    if tokenizer is None:
        raise SpecsimError(f"{source}: text prompts need a tokenizer and {model_name} has none; "
                           f"use a prompt file with token_ids")
    text = prompt.text
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                             add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(text)["input_ids"]
    return [i for i in ids if i < vocab] or [0]
