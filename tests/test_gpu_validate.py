"""The prepared GPU validation script runs, step for step, with tiny shapes on this CPU, so it
cannot rot between the sessions that are lent a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_validate_runs_its_cpu_variant(tmp_path: Path) -> None:
    environment = {**os.environ, "OUT": str(tmp_path / "out"),
                   # the interpreter running the suite is the one the script's python3 must be
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    script = ROOT / "benchmarks" / "gpu_validate.sh"
    done = subprocess.run(["bash", str(script), "--cpu-tiny"], env=environment, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    for name in ("profile.json", "errors.txt", "errors.csv", "report.html"):
        assert (out / name).is_file(), name
    errors = (out / "errors.txt").read_text()
    assert "verdict: " in errors and "synthetic acceptance" in errors
    assert "gpu_validate:" in done.stdout and "validate exit" in done.stdout
