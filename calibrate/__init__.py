"""Calibration: measure a target/draft pair on this machine and write a Profile (DESIGN.md contract 2).

Public API:
- `calibrate(target, draft, *, gpu="cpu", quick=False, grid=None, dataset=None, ...) -> Profile`
  (`calibrate.run`): latency grids + fits, memory, and — for real-weight pairs — acceptance;
- `Grid`, `default_grid(device, quick, max_draft_tokens)` (`calibrate.grid`);
- `check_gpu_label(label, device_name, force)` (`calibrate.hardware`);
- `make_tiny_pair(out_dir, seed=0) -> (target_dir, draft_dir)` (`calibrate.tiny_pair`): a
  real-weight pair built in seconds on a CPU, for tests and CPU validation.

The CLI is `specsim calibrate` (specsim/cli/calibrate.py).
"""

from calibrate.grid import Grid, default_grid
from calibrate.hardware import check_gpu_label
from calibrate.run import calibrate
from calibrate.tiny_pair import make_tiny_pair

__all__ = ["Grid", "calibrate", "check_gpu_label", "default_grid", "make_tiny_pair"]
