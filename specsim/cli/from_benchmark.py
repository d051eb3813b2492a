"""`specsim calibrate --from-benchmark RUN…`: fit a fused engine's coefficients to its own
benchmark runs (no torch, no GPU) and write the profile — each run's residuals printed first."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from specsim.errors import SpecsimError
from specsim.measured import METRICS


def calibrate_from_benchmark(paths: tuple[str, ...], gpu: str, target: str, draft: str, out: Path,
                             name: str | None, dtype: str, acceptance_from: str | None, policy: str,
                             engine_name: str, max_num_seqs: int, max_num_batched_tokens: int,
                             seed: int) -> None:
    from sim.fit_engine import fit_engine, fitted_profile
    from specsim.cli.profile import roofline_acceptance
    from specsim.measured import read_benchmark
    from specsim.policy import make_policy
    from specsim.profile import save_profile
    from specsim.profile.hardware import gpu_spec

    gpu_spec(gpu)  # an unknown label fails here, before anything is read
    try:
        make_policy(policy)
    except SpecsimError as error:
        raise SpecsimError(f"--benchmark-policy: {error}") from None
    runs = [read_benchmark(path, seed, max_num_seqs, max_num_batched_tokens) for path in paths]
    for run in runs:
        click.echo(f"{run.source}: {run.benchmark}, {len(run.requests)} requests in {len(run.stages)} "
                   f"stage(s), server max_num_seqs {run.max_num_seqs}, max_num_batched_tokens "
                   f"{run.max_num_batched_tokens}")
        for note in run.notes:
            click.echo(f"  {note}")
    acceptance = roofline_acceptance(target, draft, acceptance_from)
    with tqdm(desc="fitting (simulated runs)", unit="eval", leave=False, disable=None) as bar:
        def progress(evaluations: int, mean_abs_error: float) -> None:
            bar.update(1)
            bar.set_postfix_str(f"mean |error| {mean_abs_error:.1%}")

        result = fit_engine(runs, gpu, target, draft, acceptance, policy=policy, seed=seed,
                            on_evaluation=progress)
    profile = fitted_profile(result, runs, gpu, target, draft, acceptance, engine_name, name=name,
                             dtype=dtype, policy=policy, seed=seed)
    assert profile.engine is not None and profile.engine.fit is not None
    fit = profile.engine.fit
    click.echo(f"{'run: stage':<58} {'metric':<15} {'measured':>10} {'simulated':>10} {'error':>7}")
    for residual in fit.residuals:
        fitted = "*" if residual.metric in fit.metrics else " "
        click.echo(f"{residual.run:<58} {residual.metric:<15} {residual.measured:>10.4g} "
                   f"{residual.simulated:>10.4g} {residual.simulated / residual.measured - 1:>+7.1%}{fitted}")
    assert profile.engine is not None and profile.engine.roofline is not None
    engine, roof = profile.engine, profile.engine.roofline
    click.echo(f"fitted ({', '.join(result.fitted)}; * = metrics fitted): bandwidth_efficiency "
               f"{roof.bandwidth_efficiency:.3f}, compute_efficiency {roof.compute_efficiency:.3f}, "
               f"step_overhead_s {profile.latency.step_overhead_s * 1e3:.3f} ms, target_forward_s "
               f"{engine.target_forward_s * 1e3:.3f} ms, draft_forward_s "
               f"{engine.draft_forward_s * 1e3:.3f} ms, request_overhead_s "
               f"{engine.request_overhead_s * 1e3:.3f} ms ({result.evaluations} simulations)")
    if result.held:
        click.echo(f"held at the roofline's assumption (the runs do not tell them: a step of each moves "
                   f"the error by under 0.1 points): {', '.join(result.held)}")
    path = save_profile(profile, out)
    click.echo(f"wrote {path} ({profile.name}): mean |error| {fit.mean_abs_rel_error:.1%} over the "
               f"{len(fit.metrics)} fitted metrics of {len(fit.residuals) // len(METRICS)} stages")
