"""`specsim validate`: the simulator against real hardware on one scenario — an error table, a
verdict (exit 0: every gated metric within its threshold; 1: some fail; 3: none fails, but some are
over their thresholds where the real runs' own spread is too — unresolved on this machine) and an
HTML report.

Every flag is checked before anything runs, with one-line errors (exit 2), click's own usage
errors included. torch, the real engine and the calibration are imported only when they run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from specsim.cli.options import integer_flag, output_folder, policy_list
from specsim.errors import SpecsimError


class _OneLineUsage(click.Command):
    """click's usage errors (unknown option, missing value) as one line, like every other error."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise SpecsimError(f"{error.format_message()} (see specsim validate --help)") from None


@click.command("validate", cls=_OneLineUsage)
@click.argument("scenario", required=False)
@click.option("--target", metavar="MODEL", help="Target checkpoint folder (or built-in architecture). "
              "Required.")
@click.option("--draft", metavar="MODEL", help="Draft checkpoint folder (or built-in architecture). "
              "Required.")
@click.option("--profile", metavar="PROFILE", help="Profile of this machine and pair (a file or shipped "
              "name).")
@click.option("--calibrate", "calibrate_first", is_flag=True,
              help="Calibrate the pair on this machine first (quick grid); written to OUT/profile.json.")
@click.option("--dataset", metavar="PROMPTS.jsonl", help="Prompts for --calibrate's acceptance (default: the "
              "built-in set; the tiny pair needs its own prompts.jsonl).")
@click.option("--gpu", metavar="LABEL", help="Hardware label for --calibrate (default: cpu on cpu, else "
              "cuda).")
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda|cuda:N")
@click.option("--threads", metavar="N", help="torch CPU threads for the calibration and the real runs "
              "(default on cpu: 1 — on a shared machine two threads' barriers make forwards ~10x slower).")
@click.option("--policies", metavar="P1;P2", help="Policies, separated by ';' or spaces (default: the "
              "scenario's), e.g. 'none;fixed:k=2'.")
@click.option("--loads", metavar="L1,L2", help="Values of workload.rate_scale (default: the scenario's sweep "
              "axis on it, else its own rate_scale).")
@click.option("--seed", metavar="N", help="Workload seed (default: the scenario's first).")
@click.option("--repeats", default="3", show_default=True, metavar="N",
              help="Real runs per point, interleaved; from 2 on, the later ones measure the real runs' own "
              "spread, under which a metric over its threshold is UNRESOLVED (exit 3), not FAIL.")
@click.option("--out", metavar="DIR", help="Output folder (default: validate-SCENARIO_NAME).")
@click.option("--max-median-error", default="5", show_default=True, metavar="PCT",
              help="Threshold on median TTFT and TPOT, percent.")
@click.option("--max-p99-error", default="10", show_default=True, metavar="PCT",
              help="Threshold on p99 TTFT and TPOT, percent.")
@click.option("--max-throughput-error", default="5", show_default=True, metavar="PCT")
@click.option("--max-attainment-error", default="3", show_default=True, metavar="POINTS",
              help="Threshold on SLO attainment, percentage points.")
@click.option("--no-replay", is_flag=True,
              help="Skip the simulator runs with replayed acceptance (and at the real run's speed).")
@click.option("--no-probe", is_flag=True, help="Skip the machine-speed probe before each real run.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--prompts", metavar="PROMPTS.jsonl",
              help="Prompt set of the real runs (default: prompts.jsonl beside the target checkpoint, else "
              "the built-in text prompts; random-weight architectures need token_ids).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario field, as `specsim simulate --set` (e.g. workload.duration_s=10).")
def command(scenario: str | None, target: str | None, draft: str | None, profile: str | None,
            calibrate_first: bool, dataset: str | None, gpu: str | None, device: str, threads: str | None,
            policies: str | None, loads: str | None, seed: str | None, repeats: str, out: str | None,
            max_median_error: str,
            max_p99_error: str, max_throughput_error: str, max_attainment_error: str, no_replay: bool,
            no_probe: bool, quiet: bool, prompts: str | None, overrides: tuple[str, ...]) -> None:
    """Run SCENARIO on the real pair and in the simulator — same workload, same policy objects —
    for each policy × load; print the error table, write it as CSV with an HTML report, and exit
    0 when every gated metric is within its threshold, 1 otherwise.

    \b
    python -m calibrate.tiny_pair /tmp/pair
    specsim validate scenarios/validate-cpu.yaml --target /tmp/pair/target --draft /tmp/pair/draft \\
        --calibrate --dataset /tmp/pair/prompts.jsonl --out /tmp/validate
    """
    from specsim.scenario import load_scenario
    from specsim.validate.compare import Thresholds

    if not scenario:
        raise SpecsimError("a SCENARIO file is required (see specsim validate --help)")
    loaded = load_scenario(scenario)
    if overrides:
        from specsim.cli.options import parse_overrides

        loaded = loaded.with_fields(parse_overrides(overrides))
    for flag, value in (("--target", target), ("--draft", draft)):
        if not value:
            raise SpecsimError(f"{flag} is required (see specsim validate --help)")
    if profile and calibrate_first:
        raise SpecsimError("--profile and --calibrate exclude each other: give a profile or measure one")
    if not profile and not calibrate_first:
        raise SpecsimError("give --profile PROFILE or --calibrate (measure the pair on this machine first)")
    for flag, value in (("--dataset", dataset), ("--gpu", gpu)):
        if value and not calibrate_first:
            raise SpecsimError(f"{flag} is used by --calibrate only")
    for flag, value in (("--dataset", dataset), ("--prompts", prompts)):
        if value and not Path(value).is_file():
            raise SpecsimError(f"{flag} {value}: no such file")
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise SpecsimError(f"--device {device}: expected cpu, cuda or cuda:N")
    assert target is not None and draft is not None
    _check_model("--target", target)
    _check_model("--draft", draft)
    policy_specs = policy_list("--policies", policies) if policies is not None else list(loaded.policies)
    load_values = _loads(loads) if loads is not None else None
    seed_value = integer_flag("--seed", seed, minimum=0)
    repeat_count = integer_flag("--repeats", repeats, minimum=1)
    thread_count = integer_flag("--threads", threads, minimum=1)
    if thread_count is None and device == "cpu":
        thread_count = 1
    thresholds = Thresholds(
        median=_number("--max-median-error", max_median_error) / 100,
        p99=_number("--max-p99-error", max_p99_error) / 100,
        throughput=_number("--max-throughput-error", max_throughput_error) / 100,
        attainment_points=_number("--max-attainment-error", max_attainment_error),
    )
    out_dir = output_folder("--out", Path(out) if out else Path(f"validate-{loaded.name}"))
    from specsim.profile import load_profile, save_profile

    profile_value = load_profile(profile) if profile else None
    say = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))

    from specsim.validate.run import import_serve

    serve = import_serve()  # fail before a calibration if the real engine is missing
    if thread_count is not None:
        import torch

        torch.set_num_threads(thread_count)  # one process: the calibration and every real run
    if profile_value is None:
        from calibrate import calibrate

        say("calibrating the pair on this machine (quick grid)")
        longest = max([make_k(spec) for spec in policy_specs] + [4])
        prompts = scenario_prompts(dataset, tuple(loaded.workload.categories), out_dir)
        profile_value = calibrate(target, draft, gpu=gpu or ("cpu" if device == "cpu" else "cuda"),
                                  device=device.split(":")[0], quick=True, dataset=prompts,
                                  max_draft_tokens=longest, threads=thread_count, progress=not quiet,
                                  policies=policy_specs)
        save_profile(profile_value, out_dir / "profile.json")
        say(f"wrote {out_dir / 'profile.json'}")
    probe = calibration_probe = None
    if not no_probe:
        from calibrate.probe import SpeedProbe

        probe = SpeedProbe(target, draft, profile_value, device)
        if calibrate_first:
            calibration_probe = probe()  # how the probe reads the profile's own moment

    from specsim.validate.compare import format_table
    from specsim.validate.report import write_report
    from specsim.validate.run import run_validation

    result = run_validation(loaded, profile=profile_value, target=target, draft=draft, policies=policy_specs,
                            loads=load_values, seed=seed_value, device=device, repeats=repeat_count,
                            replay=not no_replay, thresholds=thresholds, out=out_dir, serve=serve,
                            progress=not quiet, echo=say, probe=probe,
                            calibration_probe=calibration_probe, prompts=prompts)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out_dir / "errors.csv", index=False)
    title = f"specsim validate: {loaded.name}"
    text = "\n".join([format_table(result.table, title), "", *result.notes])
    (out_dir / "errors.txt").write_text(text + "\n")
    write_report(out_dir / "report.html", title, result.table, result.points, result.notes)
    click.echo(text)
    click.echo(f"wrote {out_dir / 'errors.csv'}, {out_dir / 'errors.txt'}, {out_dir / 'report.html'}")
    if result.exit_code:
        sys.exit(result.exit_code)


def scenario_prompts(dataset: str | None, categories: tuple[str, ...], out_dir: Path) -> Path:
    """The prompt file restricted to the scenario's categories (acceptance is measured only where
    the simulator will sample it: a quick calibration's slowest part), written to OUT."""
    import json

    from specsim.prompts import DEFAULT_PROMPTS

    source = Path(dataset) if dataset else Path(DEFAULT_PROMPTS)
    kept = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise SpecsimError(f"{source}:{number}: not a JSON object") from None
        if isinstance(row, dict) and row.get("category") in categories:
            kept.append(line)
    if not kept:
        raise SpecsimError(f"{source}: no prompt in the scenario's categories {list(categories)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "calibration-prompts.jsonl"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


def make_k(spec: str | dict[str, Any]) -> int:
    from specsim.policy import make_policy

    return int(make_policy(spec).max_draft_tokens)


def _check_model(flag: str, value: str) -> None:
    from specsim.architectures import load_architecture

    try:
        load_architecture(value)
    except SpecsimError as error:
        raise SpecsimError(f"{flag}: {error}") from None


def _loads(text: str) -> list[float]:
    values = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            value = float(part)
        except ValueError:
            raise SpecsimError(f"--loads {text}: {part!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise SpecsimError(f"--loads {text}: {part!r} must be a positive rate scale")
        values.append(value)
    if not values:
        raise SpecsimError("--loads: no value given")
    return values



def _number(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SpecsimError(f"{flag} {text}: expected a number") from None
    if not 0 <= value < float("inf"):
        raise SpecsimError(f"{flag} {text}: must be a non-negative number")
    return value
