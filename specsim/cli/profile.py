"""`specsim profile`: list the shipped profiles, make a roofline one, show one."""

from __future__ import annotations

from pathlib import Path

import click

from specsim.architectures import DTYPE_BYTES, load_architecture
from specsim.cli.options import output_file
from specsim.profile import load_profile, save_profile, shipped_profiles
from specsim.profile.hardware import GPUS
from specsim.profile.schema import Acceptance


@click.group("profile")
def command() -> None:
    """Calibration profiles: the latency and acceptance models a simulation runs on."""


@command.command("list")
def list_profiles() -> None:
    """The shipped profiles, one per line: name, source, hardware, target/draft."""
    for name in shipped_profiles():
        profile = load_profile(name)
        acceptance = profile.acceptance.source if profile.acceptance else "none"
        if profile.acceptance and any(c.startswith("stand-in") for c in profile.acceptance.citations):
            acceptance += ", another pair's as a stand-in"
        click.echo(f"{name}  {profile.source} (acceptance {acceptance})  {profile.hardware.device_name}  "
                   f"{profile.target.name}/{profile.draft.name}")


@command.command("roofline")
@click.option("--gpu", required=True, type=click.Choice(sorted(GPUS)), help="datasheet row to use")
@click.option("--target", required=True, help="target architecture: a built-in name or a checkpoint folder")
@click.option("--draft", required=True, help="draft architecture: a built-in name or a checkpoint folder")
@click.option("--dtype", default="bf16", show_default=True, type=click.Choice(sorted(DTYPE_BYTES)))
@click.option("--acceptance-from", "acceptance_from", default=None,
              help="take the acceptance section from this profile (a shipped name or a file)")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="where to write the profile JSON")
@click.option("--composition", default="fused", show_default=True, type=click.Choice(["fused", "separate"]),
              help="fused: a vLLM/SGLang-like engine, one forward over every token of a step; separate: "
              "draft, verify and prefill forwards one after the other, no fixed costs")
@click.option("--tensor-parallel", "tensor_parallel", default=1, show_default=True, type=int,
              help="GPUs the target is split over (one node, at most 8; the draft runs whole on each)")
@click.option("--cuda-graphs", "cuda_graphs", default="none", show_default=True,
              type=click.Choice(["none", "vllm"]),
              help="vllm: forwards pad to vLLM V1's default CUDA-graph capture sizes (a staircase in tokens "
              "per step); none: priced as smooth")
def roofline(gpu: str, target: str, draft: str, dtype: str, acceptance_from: str | None, out: Path,
             composition: str, tensor_parallel: int, cuda_graphs: str) -> None:
    """A profile whose latency comes from datasheet bandwidth and FLOP/s (no GPU needed).

    Acceptance: copied from --acceptance-from when given; otherwise the published curves when the
    pair is the LLaMA-2-7B / LLaMA-68M class; otherwise left out (latency-only profile).
    """
    from specsim.profile.forward_cost import check_tensor_parallel
    from specsim.profile.roofline import VLLM_CUDA_GRAPH_SIZES, roofline_profile

    output_file("--out", out)
    check_tensor_parallel(load_architecture(target), tensor_parallel)  # before anything is said
    acceptance = roofline_acceptance(target, draft, acceptance_from)
    profile = roofline_profile(gpu, target, draft, dtype=dtype, acceptance=acceptance,
                               composition=composition,  # type: ignore[arg-type]
                               tensor_parallel=tensor_parallel,
                               cuda_graph_sizes=VLLM_CUDA_GRAPH_SIZES if cuda_graphs == "vllm" else None)
    path = save_profile(profile, out)
    click.echo(f"wrote {path} ({profile.name})")


def roofline_acceptance(target: str, draft: str, acceptance_from: str | None) -> Acceptance | None:
    """The acceptance a roofline profile gets, said on stdout: --acceptance-from's, else the
    published curves of the pair's class, else none."""
    # imported here: building the published curves needs scipy's solvers, `list` does not
    from specsim.profile.published import is_published_pair, published_acceptance
    from specsim.profile.published_eagle import eagle_acceptance, is_eagle_pair

    target_name, draft_name = load_architecture(target).name, load_architecture(draft).name
    if acceptance_from is not None:
        acceptance = load_profile(acceptance_from).acceptance
        if acceptance is None:
            click.echo(f"note: {acceptance_from} has no acceptance section; the profile has none either")
        else:
            click.echo(f"acceptance: copied from {acceptance_from} ({acceptance.source})")
        return acceptance
    if is_published_pair(target_name, draft_name):
        click.echo("acceptance: published curves for the 7B/68M pair (Spec-Bench, derived; see citations)")
        return published_acceptance()
    if is_eagle_pair(target_name, draft_name):
        click.echo("acceptance: vLLM's published EAGLE-3 figures for Llama-3.1-8B (MT-Bench; see citations)")
        return eagle_acceptance()
    click.echo(f"note: no published acceptance for {target_name}/{draft_name}; the profile is latency "
               "only (give --acceptance-from PROFILE to add one)")
    return None


@command.command("show")
@click.argument("profile_name", metavar="PROFILE")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write a self-contained HTML page with the curves")
def show(profile_name: str, html_out: Path | None) -> None:
    """Summarise PROFILE (a shipped name or a file): hardware, models, latencies, fit error, acceptance."""
    from specsim.profile.summary import summary_text

    if html_out is not None:
        output_file("--html", html_out)
    profile = load_profile(profile_name)
    click.echo(summary_text(profile))
    if html_out is not None:
        from specsim.profile.show import write_html

        click.echo(f"wrote {write_html(profile, html_out)}")
