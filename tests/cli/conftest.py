"""A small scenario file each CLI test can run in about a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SMALL_SCENARIO: dict[str, Any] = {
    "name": "small",
    "cluster": {"replicas": 2, "router": "least_outstanding_tokens", "max_batch_size": 8,
                "max_batch_tokens": 1024},
    "workload": {"duration_s": 4, "arrival": {"kind": "poisson", "rate": 6},
                 "prompt_tokens": {"kind": "uniform", "low": 32, "high": 128},
                 "output_tokens": {"kind": "uniform", "low": 8, "high": 40},
                 "categories": {"chat": 1, "code": 1}},
    "slo": {"ttft_s": 0.5, "tpot_s": 0.02},
    "policies": ["none", "fixed:k=3"],
    "seeds": [0, 1],
    "sweep": {"grid": {"workload.rate_scale": [0.5, 1.0]}},
}


def write_scenario(folder: Path, raw: dict[str, Any], name: str = "small.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def small_scenario(tmp_path: Path) -> Path:
    return write_scenario(tmp_path, SMALL_SCENARIO)
