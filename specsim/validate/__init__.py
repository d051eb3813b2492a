"""`specsim validate`: the simulator against real hardware, same scenario, same policy objects.

- `acceptance.measured_acceptance`: a real run's per-request acceptance, to replay in the sim;
- `compare`: the error table (sim vs real, per policy × load × metric), thresholds, verdict;
- `report`: the self-contained plotly HTML page;
- `run.run_validation`: calibrate (optionally) → real run → sim → sim with replayed acceptance.

Torch-free: the real engine (`realrun.serve`) and the calibration are imported only when used.
"""
