"""How much requests differ from one another, real against simulated: the whole distribution's
width, where a p99 of 20-60 requests is little more than their maximum.

    python benchmarks/request_spread.py VALIDATE_OUT [OTHER_OUT ...]

For each policy × load of a `specsim validate` output (and of `benchmarks/resimulate.py` outputs
of the same real runs, e.g. with another step-time persistence), the coefficient of variation
(standard deviation / mean, over the requests) of TPOT and of TTFT: the real run, its repeat,
and each output's simulation at the real run's speed (`sim-real-speed`: the machine's speed
taken out, so what differs is the model of step-to-step variation, batching and acceptance).
The last line: at how many points each simulation is closer to the real run than the first one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from specsim.results import read_result

METRICS = ("tpot_s", "ttft_s")


def variation(folder: Path, metric: str) -> float:
    values = read_result(folder).requests[metric].dropna().to_numpy()
    return float(np.std(values) / np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path, nargs="+")
    args = parser.parse_args()
    first = args.outputs[0]
    names = [str(out) for out in args.outputs]
    print(f"coefficient of variation over requests; sims at the real run's speed ({', '.join(names)})")
    print(f"{'point':<16}{'metric':<8}{'real':>8}{'repeat':>8}" + "".join(f"{f'sim {i + 1}':>8}"
                                                                       for i in range(len(names))))
    closer = np.zeros(len(names), dtype=int)
    for point in sorted(path.name for path in (first / "runs").iterdir()):
        for metric in METRICS:
            real = variation(first / "runs" / point / "real", metric)
            repeat = variation(first / "runs" / point / "real-repeat", metric)
            sims = [variation(out / "runs" / point / "sim-real-speed", metric) for out in args.outputs]
            closer += [abs(sim - real) < abs(sims[0] - real) for sim in sims]
            row = f"{point:<16}{metric[:4]:<8}{real:>8.3f}{repeat:>8.3f}"
            print(row + "".join(f"{sim:>8.3f}" for sim in sims))
    print("closer to the real run than sim 1 at: " + ", ".join(f"sim {i + 1} {count}"
                                                               for i, count in enumerate(closer)))


if __name__ == "__main__":
    main()
