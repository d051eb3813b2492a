"""Request by request, in arrival order: TPOT in the real run, its repeat, and the simulation at
the real run's speed — to see why a median can be off when the mean is not.

    python benchmarks/request_tpot.py VALIDATE_OUT POINT

POINT is a folder under VALIDATE_OUT/runs (e.g. none@0.3). The simulation at the real run's speed
runs at the run's mean forward speed; a machine that spends spells of tens of seconds at two
speeds gives requests two TPOTs, and the median request then sees one of them, not the mean.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from specsim.results import read_result

RUNS = ("real", "real-repeat", "sim-real-speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("point")
    args = parser.parse_args()
    folder = args.output / "runs" / args.point
    tables = {name: read_result(folder / name).requests.sort_values("arrival_s") for name in RUNS
              if (folder / name).is_dir()}
    print(f"{args.point}: TPOT per request (ms), in arrival order")
    print(f"{'request':>8}{'arrival s':>10}" + "".join(f"{name:>16}" for name in tables))
    first = next(iter(tables.values()))
    for row, arrival_s in enumerate(first["arrival_s"].to_numpy()):
        cells = "".join(f"{table['tpot_s'].iloc[row] * 1e3:>16.2f}" for table in tables.values())
        print(f"{int(first['request_id'].iloc[row]):>8}{arrival_s:>10.1f}{cells}")
    for statistic in (np.nanmedian, np.nanmean):
        cells = "".join(f"{statistic(table['tpot_s'].to_numpy()) * 1e3:>16.2f}" for table in tables.values())
        print(f"{statistic.__name__.removeprefix('nan'):>18}{cells}")


if __name__ == "__main__":
    main()
