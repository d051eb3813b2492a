"""`specsim simulate SCENARIO`: one simulated run, its tables in a folder and its summary printed."""

from __future__ import annotations

from pathlib import Path

import click

from specsim.errors import SpecsimError
from specsim.scenario import load_scenario


@click.command("simulate")
@click.argument("scenario_path", metavar="SCENARIO")
@click.option("--policy", "policy_spec", default=None, metavar="NAME[:k=v,...]",
              help="Policy to run (default: the scenario's first).")
@click.option("--seed", type=int, default=None, help="Seed (default: the scenario's first).")
@click.option("--profile", "profile_name", default=None,
              help="A shipped profile name or a profile JSON path, instead of the scenario's.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario field by dotted path (YAML value), e.g. workload.rate_scale=2.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the tables (default: runs/SCENARIO/POLICY-seedN).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the run as a Chrome/Perfetto trace (JSON) to this file.")
@click.option("--format", "table_format", default="csv", show_default=True, metavar="csv|parquet",
              help="The requests and steps tables' format (parquet needs pyarrow: specsim[parquet]).")
def command(scenario_path: str, policy_spec: str | None, seed: int | None, profile_name: str | None,
            overrides: tuple[str, ...], out_dir: Path | None, trace_path: Path | None,
            table_format: str) -> None:
    """Simulate one run of SCENARIO under one policy and seed."""
    from sim.cluster import simulate
    from specsim.cli.options import output_file, output_folder, parse_overrides
    from specsim.policy import make_policy
    from specsim.results import check_format

    scenario = load_scenario(scenario_path)
    fields = parse_overrides(overrides)
    if profile_name is not None:
        fields["profile"] = profile_name
    if fields:
        scenario = scenario.with_fields(fields)
    spec = policy_spec if policy_spec is not None else scenario.policies[0]
    label = make_policy(spec).label()
    run_seed = seed if seed is not None else scenario.seeds[0]
    if run_seed < 0:
        raise SpecsimError(f"--seed: must be ≥ 0, got {run_seed}")
    default = Path("runs") / scenario.name / f"{_slug(label)}-seed{run_seed}"
    folder = output_folder("--out", out_dir or default)
    check_format(table_format)
    if trace_path is not None:
        output_file("--trace", trace_path)
    result = simulate(scenario, spec, run_seed)
    result.write(folder, table_format)
    if trace_path is not None:
        from specsim.report.trace import write_trace

        click.echo(f"trace: {write_trace(result.requests, result.steps, trace_path)}")
    click.echo(format_summary(result.summary))
    click.echo(f"tables: {folder}/")


def format_summary(summary: dict[str, object]) -> str:
    rows = [
        ("policy", summary["policy"]), ("seed", summary["seed"]),
        ("requests (finished)", f"{summary['requests']} ({summary['finished']})"),
        ("load", _number(summary["load"], " req/s")),
        ("throughput", _number(summary["throughput_tokens_per_s"], " tokens/s")),
        ("goodput", _number(summary["goodput_requests_per_s"], " req/s")),
        ("SLO attainment", _number(summary["slo_attainment"], "%", "{:.1f}", scale=100)),
        ("TTFT p50 / p99",
         f"{_number(summary['ttft_p50_s'], ' s')} / {_number(summary['ttft_p99_s'], ' s')}"),
        ("TPOT p50 / p99",
         f"{_number(summary['tpot_p50_s'], ' ms', '{:.2f}', scale=1e3)} / "
         f"{_number(summary['tpot_p99_s'], ' ms', '{:.2f}', scale=1e3)}"),
        ("mean k", _number(summary["mean_k"], "")),
        ("mean accepted length", _number(summary["mean_accepted_length"], " tokens/step")),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _number(value: object, unit: str, form: str = "{:.4g}", scale: float = 1.0) -> str:
    if not isinstance(value, (int, float)) or value != value:  # NaN: undefined, e.g. nothing finished
        return "n/a"
    return form.format(value * scale) + unit


def _slug(label: str) -> str:
    return "".join(char if char.isalnum() or char in "-_.=" else "_" for char in label)
