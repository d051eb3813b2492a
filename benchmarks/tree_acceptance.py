"""Trees against sequences at an equal verify budget, on the real tiny pair: tokens per verify step
(accepted + the one verification adds) measured by the real engine, and the simulator's prediction
from a profile calibrated on the same pair (its per-rank curves measured).

    python benchmarks/tree_acceptance.py                    # the tiny pair, made under /tmp
    python benchmarks/tree_acceptance.py --pair /tmp/pair --seconds 20

Pairs of rows verify the same number of draft tokens per request and step: `fixed:k=4` against
`static_tree:width=2,depth=2` (4 nodes), `fixed:k=2` against `static_tree:width=2,depth=1`;
`static_tree:width=1,depth=4` is `fixed:k=4` drafted as a tree (the same tokens, a check).
Greedy decoding; light Poisson traffic (batch 1-4) from scenarios/validate-cpu.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from calibrate import Grid, calibrate  # noqa: E402
from calibrate.tiny_pair import make_tiny_pair  # noqa: E402
from realrun.serve import serve  # noqa: E402
from sim import simulate  # noqa: E402
from specsim.scenario import build_requests, load_scenario  # noqa: E402

POLICIES = ["fixed:k=4", "static_tree:width=2,depth=2", "static_tree:width=1,depth=4", "fixed:k=2",
            "static_tree:width=2,depth=1"]
GRID = Grid(batch_sizes=(1, 2, 4), context_tokens=(32, 128), tokens_per_request=(1, 3, 5),
            prefill_batch_sizes=(1, 2), prefill_prompt_tokens=(8, 32), warmup=2, repeats=10,
            budget_s=0.5, passes=2)


def tokens_per_verify(steps) -> tuple[float, float]:
    """Mean tokens a request got from one verification (accepted drafts + 1), decode steps only,
    and that mean's standard error (from the steps' own per-request means, batch-weighted)."""
    decoding = steps[steps["batch_size"] > 0]
    weights = decoding["batch_size"].to_numpy(dtype=float)
    per_step = (decoding["accepted"].to_numpy() + weights) / weights
    mean = float(np.average(per_step, weights=weights))
    spread = float(np.sqrt(np.average((per_step - mean) ** 2, weights=weights)))
    return mean, spread / np.sqrt(len(per_step))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", type=Path, default=Path("/tmp/tree-acceptance-pair"),
                        help="the tiny pair's folder (made there if absent)")
    parser.add_argument("--seconds", type=float, default=20.0, help="arrivals per real run")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    torch.set_num_threads(1)
    target, draft = make_tiny_pair(arguments.pair)
    print("calibrating the pair (latency grid and acceptance, candidates 2..5 included)", file=sys.stderr)
    profile = calibrate(target, draft, gpu="cpu", grid=GRID, dataset=arguments.pair / "prompts.jsonl",
                        max_draft_tokens=4, prompts_per_category=6, new_tokens=64, threads=1, progress=False)
    scenario = load_scenario(ROOT / "scenarios" / "validate-cpu.yaml").with_fields(
        {"workload.duration_s": arguments.seconds, "workload.rate_scale": 0.5})
    requests = build_requests(scenario, arguments.seed)
    rows = []
    for policy in POLICIES:
        print(f"real {policy}", file=sys.stderr)
        real = serve(scenario, policy, arguments.seed, target, draft, profile=profile, requests=requests,
                     show_progress=False)
        predicted = simulate(scenario, policy, arguments.seed, profile=profile, requests=requests)
        verified = float(real.steps["verified"].sum() / max(real.steps["batch_size"].sum(), 1))
        rows.append((policy, verified, *tokens_per_verify(real.steps), *tokens_per_verify(predicted.steps)))
    print(f"\ntokens per verify step (accepted + 1) ± its standard error, tiny pair, greedy, "
          f"{arguments.seconds:g} s of arrivals at load 0.5, seed {arguments.seed}")
    print(f"{'policy':30s} {'verified/req':>12s} {'real':>14s} {'sim':>14s} {'sim err':>8s}")
    for policy, verified, real_tokens, real_se, sim_tokens, sim_se in rows:
        error = (sim_tokens - real_tokens) / real_tokens
        print(f"{policy:30s} {verified:12.2f} {real_tokens:7.3f} ±{real_se:5.3f} "
              f"{sim_tokens:7.3f} ±{sim_se:5.3f} {error:+8.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
