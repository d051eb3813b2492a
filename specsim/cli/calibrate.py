"""`specsim calibrate`: measure a target/draft pair on this machine and write a Profile.

Options are checked here and in `calibrate.run` with one-line errors (click's own usage errors
are several lines, so required options and choices are validated by hand). torch and
transformers are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from specsim.cli.options import integer_flag, policy_list
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
def command(gpu: str | None, target: str | None, draft: str | None, out: str | None, dataset: str | None,
            dtype: str | None, device: str | None, quick: bool, force: bool, acceptance_from: str | None,
            max_draft_tokens: str, prompts_per_category: str | None, new_tokens: str | None,
            greedy_only: bool, threads: str | None, seed: str, name: str | None,
            policies: str | None) -> None:
    """Measure prefill, draft-step and verify latency grids (and, for real-weight pairs,
    acceptance per category) on this machine, fit them, and write a profile.

    \b
    specsim calibrate --gpu cpu --quick --target cpu-target --draft cpu-draft --out cpu.json
    python -m calibrate.tiny_pair /tmp/pair   # a tiny real-weight pair for CPU runs
    specsim calibrate --gpu cpu --quick --target /tmp/pair/target --draft /tmp/pair/draft \\
        --dataset /tmp/pair/prompts.jsonl --out tiny.json
    """
    for flag, value in (("--gpu", gpu), ("--target", target), ("--draft", draft), ("--out", out)):
        if not value:
            raise SpecsimError(f"{flag} is required (see specsim calibrate --help)")
    # integers parsed here, not by click, so that a typo gives one line, not a usage block
    max_k = integer_flag("--max-draft-tokens", max_draft_tokens, minimum=1)
    per_category = integer_flag("--prompts-per-category", prompts_per_category, minimum=1)
    tokens = integer_flag("--new-tokens", new_tokens, minimum=1)
    thread_count = integer_flag("--threads", threads, minimum=1)
    seed_value = integer_flag("--seed", seed, minimum=0)
    policy_specs = policy_list("--policies", policies) if policies is not None else []
    out_path = Path(out)
    if out_path.is_dir():
        raise SpecsimError(f"--out {out}: is a folder; give a file name such as profile.json")

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
    if profile.acceptance is not None:
        rates = ", ".join(f"{c} {a.position_acceptance[0]:.2f}" for c, a in profile.acceptance.greedy.items())
        summary += f"; greedy acceptance at position 1: {rates}"
    click.echo(summary)

