"""`specsim realrun`: serve a scenario's requests on real models and write the run's tables.

Options are checked by hand with one-line errors (as in `specsim calibrate`); torch and
transformers are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from specsim.cli.options import integer_flag, output_file, output_folder
from specsim.errors import SpecsimError
from specsim.results import check_format


@click.command("realrun")
@click.argument("scenario", required=False)
@click.option("--target", metavar="MODEL",
              help="Target checkpoint folder or built-in architecture (required).")
@click.option("--draft", metavar="MODEL", help="Draft checkpoint folder or architecture (required unless the "
              "policy is 'none').")
@click.option("--policy", metavar="SPEC", help="Policy, e.g. fixed:k=4 (default: the scenario's first).")
@click.option("--seed", default="0", show_default=True, metavar="N")
@click.option("--device", default="cpu", show_default=True, metavar="cpu|cuda")
@click.option("--out", metavar="DIR", help="Folder for requests/steps/summary (default: "
              "runs/real/SCENARIO/POLICY-seedN).")
@click.option("--prompts", metavar="PROMPTS.jsonl", help="Prompt set (default: prompts.jsonl beside the "
              "target checkpoint, else the built-in text prompts).")
@click.option("--decoding", metavar="greedy|sampling", help="Default: the scenario's.")
@click.option("--threads", metavar="N", help="torch CPU threads.")
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.option("--trace", metavar="FILE", help="Also write the run as a Chrome/Perfetto trace (JSON).")
@click.option("--format", "table_format", default="csv", show_default=True, metavar="csv|parquet",
              help="The requests and steps tables' format (parquet needs pyarrow: specsim[parquet]).")
def command(scenario: str | None, target: str | None, draft: str | None, policy: str | None, seed: str,
            device: str, out: str | None, prompts: str | None, decoding: str | None, threads: str | None,
            quiet: bool, trace: str | None, table_format: str) -> None:
    """Replay SCENARIO's requests in real time on a target/draft pair with continuous batching
    and batched speculative decoding under one policy. Ctrl-C stops early and keeps every
    finished request. One replica (cluster.replicas must be 1).

    \b
    python -m calibrate.tiny_pair /tmp/pair
    specsim realrun scenarios/x.yaml --target /tmp/pair/target --draft /tmp/pair/draft --policy fixed:k=4
    """
    if not scenario:
        raise SpecsimError("SCENARIO is required (a scenario YAML file; see specsim realrun --help)")
    if not target:
        raise SpecsimError("--target is required (see specsim realrun --help)")
    seed_value = integer_flag("--seed", seed, minimum=0)
    thread_count = integer_flag("--threads", threads, minimum=1)
    if decoding not in (None, "greedy", "sampling"):
        raise SpecsimError(f"--decoding {decoding}: expected greedy or sampling")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise SpecsimError(f"--device {device}: expected cpu or cuda")

    from specsim.policy import make_policy
    from specsim.scenario import load_scenario

    loaded = load_scenario(scenario)
    spec = policy if policy is not None else loaded.policies[0]
    try:
        label = make_policy(spec).label()
    except SpecsimError as error:
        raise SpecsimError(f"--policy: {error}") from None
    default_out = Path("runs") / "real" / loaded.name / f"{label.replace(':', '_')}-seed{seed_value}"
    out_path = output_folder("--out", Path(out) if out else default_out)
    trace_path = output_file("--trace", Path(trace)) if trace else None
    check_format(table_format)

    import torch

    from realrun.serve import serve

    if thread_count:
        torch.set_num_threads(thread_count)
    sampling = None if decoding is None else decoding == "sampling"
    result = serve(loaded, spec, seed_value, target, draft, device=device, sampling=sampling,
                   show_progress=not quiet, prompts=prompts)
    result.write(out_path, table_format)
    if trace_path is not None:
        from specsim.report.trace import write_trace

        click.echo(f"trace: {write_trace(result.requests, result.steps, trace_path)}")
    summary = result.summary
    note = " (interrupted)" if result.details.get("interrupted") else ""
    click.echo(f"wrote {out_path}{note}: {summary['finished']}/{summary['requests']} requests finished, "
               f"{summary['throughput_tokens_per_s']:.1f} tokens/s, "
               f"SLO attainment {summary['slo_attainment']:.2f}, "
               f"mean accepted length {summary['mean_accepted_length']:.2f}")

