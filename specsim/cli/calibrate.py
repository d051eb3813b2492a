"""`specsim calibrate`: measure a target/draft pair on this machine and write a Profile.

Options are checked here and in `calibrate.run` with one-line errors (click's own usage errors
are several lines, so required options and choices are validated by hand). torch and
transformers are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from specsim.cli.options import integer_flag, output_file, policy_list
from specsim.errors import SpecsimError


@click.command("calibrate")
@click.option("--gpu", metavar="LABEL", help="Hardware label: h100, a100, l40s, ..., or cpu (required).")
@click.option("--target", metavar="MODEL", help="Checkpoint folder (real weights) or built-in architecture "
              "name (random weights: latency only). Required.")
@click.option("--draft", metavar="MODEL", help="Same, for the draft model. Required.")
@click.option("--out", metavar="PROFILE.json", help="Where to write the profile (required).")
@click.option("--dataset", metavar="PROMPTS.jsonl",
              help="Prompts with a category (default: the built-in set).")
@click.option("--dtype", metavar="DTYPE", help="float32, bfloat16 or float16 (default: float32 on cpu, "
              "bfloat16 on cuda).")
@click.option("--device", metavar="cpu|cuda", help="Default: cpu for --gpu cpu, else cuda.")
@click.option("--quick", is_flag=True, help="A coarse grid and fewer prompts: minutes on a CPU.")
@click.option("--force", is_flag=True, help="Accept a --gpu label that does not match the device.")
@click.option("--acceptance-from", metavar="PROFILE", help="Copy the acceptance section of this profile.")
@click.option("--max-draft-tokens", default="8", show_default=True, metavar="K",
              help="Longest draft measured (verify grid k = 0..K, acceptance positions 1..K).")
@click.option("--prompts-per-category", metavar="N", help="Default: 8 with --quick, else all.")
@click.option("--new-tokens", metavar="N", help="Tokens generated per prompt (default: 64 quick, else 128).")
@click.option("--greedy-only", is_flag=True, help="Skip the temperature-1 (rejection sampling) acceptance.")
@click.option("--threads", metavar="N", help="torch CPU threads (CPU calibrations).")
@click.option("--seed", default="0", show_default=True, metavar="N")
@click.option("--name", help="Profile name (default: LABEL-TARGET-DRAFT).")
@click.option("--policies", metavar="P1;P2", help="Policies whose own host time per step is measured on the "
              "real engine (profile latency.policy_step_overhead_s), separated by ';' or spaces.")
@click.option("--from-benchmark", "benchmarks", multiple=True, metavar="RUN",
              help="Instead of measuring: fit a fused engine's coefficients (a roofline for --gpu, --target "
              "and --draft) to its own benchmark runs — an inference-perf run folder or a `vllm bench serve "
              "--save-result` JSON; repeat for several runs. No torch needed.")
@click.option("--benchmark-policy", default="none", show_default=True, metavar="POLICY",
              help="With --from-benchmark: the speculation the benchmarked engine ran.")
@click.option("--engine", "engine_name", default="vllm", show_default=True, metavar="NAME",
              help="With --from-benchmark: the engine the runs measured (recorded in the profile).")
@click.option("--max-num-seqs", metavar="N", help="With --from-benchmark: the server's max batch size where "
              "a run's files do not say (default: vLLM's 128).")
@click.option("--max-num-batched-tokens", metavar="N", help="With --from-benchmark: its token budget per "
              "step where a run's files do not say (default: vLLM's 2048).")
def command(gpu: str | None, target: str | None, draft: str | None, out: str | None, dataset: str | None,
            dtype: str | None, device: str | None, quick: bool, force: bool, acceptance_from: str | None,
            max_draft_tokens: str, prompts_per_category: str | None, new_tokens: str | None,
            greedy_only: bool, threads: str | None, seed: str, name: str | None,
            policies: str | None, benchmarks: tuple[str, ...], benchmark_policy: str, engine_name: str,
            max_num_seqs: str | None, max_num_batched_tokens: str | None) -> None:
    """Measure prefill, draft-step and verify latency grids (and, for real-weight pairs,
    acceptance per category) on this machine, fit them, and write a profile — or, with
    --from-benchmark, fit a serving engine's coefficients to its own benchmark results.

    \b
    specsim calibrate --gpu cpu --quick --target cpu-target --draft cpu-draft --out cpu.json
    python -m calibrate.tiny_pair /tmp/pair   # a tiny real-weight pair for CPU runs
    specsim calibrate --gpu cpu --quick --target /tmp/pair/target --draft /tmp/pair/draft \\
        --dataset /tmp/pair/prompts.jsonl --out tiny.json
    specsim calibrate --gpu h100 --target llama2-7b --draft llama-68m --out vllm.json \\
        --from-benchmark runs/codegen --from-benchmark runs/roleplay
    """
    for flag, value in (("--gpu", gpu), ("--target", target), ("--draft", draft), ("--out", out)):
        if not value:
            raise SpecsimError(f"{flag} is required (see specsim calibrate --help)")
    out_path = output_file("--out", Path(out))  # type: ignore[arg-type]
    seed_value = integer_flag("--seed", seed, minimum=0)
    if benchmarks:
        measuring = {"--dataset": dataset, "--device": device, "--quick": quick, "--force": force,
                     "--prompts-per-category": prompts_per_category, "--new-tokens": new_tokens,
                     "--greedy-only": greedy_only, "--threads": threads, "--policies": policies}
        for flag, value in measuring.items():
            if value:
                raise SpecsimError(f"{flag}: measures a pair on this machine; it does not apply to "
                                   "--from-benchmark")
        from specsim.cli.from_benchmark import calibrate_from_benchmark
        from specsim.measured.inference_perf import DEFAULT_MAX_NUM_BATCHED_TOKENS, DEFAULT_MAX_NUM_SEQS

        seqs = integer_flag("--max-num-seqs", max_num_seqs, minimum=1) or DEFAULT_MAX_NUM_SEQS
        budget = (integer_flag("--max-num-batched-tokens", max_num_batched_tokens, minimum=1)
                  or DEFAULT_MAX_NUM_BATCHED_TOKENS)
        calibrate_from_benchmark(
            benchmarks, gpu, target, draft, out_path, name, dtype or "bf16",  # type: ignore[arg-type]
            acceptance_from, benchmark_policy, engine_name, seqs, budget, seed_value or 0)
        return
    for flag, value in (("--max-num-seqs", max_num_seqs),
                        ("--max-num-batched-tokens", max_num_batched_tokens),
                        ("--benchmark-policy", None if benchmark_policy == "none" else benchmark_policy),
                        ("--engine", None if engine_name == "vllm" else engine_name)):
        if value is not None:
            raise SpecsimError(f"{flag}: applies only with --from-benchmark")
    # integers parsed here, not by click, so that a typo gives one line, not a usage block
    max_k = integer_flag("--max-draft-tokens", max_draft_tokens, minimum=1)
    per_category = integer_flag("--prompts-per-category", prompts_per_category, minimum=1)
    tokens = integer_flag("--new-tokens", new_tokens, minimum=1)
    thread_count = integer_flag("--threads", threads, minimum=1)
    policy_specs = policy_list("--policies", policies) if policies is not None else []

    from calibrate import calibrate
    from specsim.profile import save_profile

    profile = calibrate(
        target, draft, gpu=gpu, device=device, dtype=dtype, quick=quick, dataset=dataset,
        acceptance_from=acceptance_from, max_draft_tokens=max_k, prompts_per_category=per_category,
        new_tokens=tokens, sampling=not greedy_only, force=force, seed=seed_value, threads=thread_count,
        name=name, policies=policy_specs,
    )
    save_profile(profile, out_path)
    verify = profile.latency.verify
    summary = (f"wrote {out_path}: {len(verify.batch_sizes)}×{len(verify.tokens_per_request)}×"
               f"{len(verify.context_tokens)} verify grid, fit error median "
               f"{verify.fit.holdout_rel_error_median:.1%}")
    walk_spread = profile.latency.grid_walk_spread
    if walk_spread:  # the measurement's own resolution on this machine, said where it is made
        summary += ", grid walks " + " / ".join(f"{spread:.0%} apart ({kind})"
                                                for kind, spread in walk_spread.items())
    if profile.acceptance is not None:
        rates = ", ".join(f"{c} {a.position_acceptance[0]:.2f}" for c, a in profile.acceptance.greedy.items())
        summary += f"; greedy acceptance at position 1: {rates}"
    click.echo(summary)

