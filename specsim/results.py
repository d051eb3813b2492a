"""A run's three tables, written to and read from a folder:
`requests.csv`, `steps.csv`, `summary.csv` (one row) and `summary.json` (the same row).

CSV, not Parquet: diffable, byte-identical for identical runs, and readable everywhere.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from specsim.errors import SpecsimError


@dataclass
class RunResult:
    requests: pd.DataFrame
    steps: pd.DataFrame
    summary: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)  # run facts beyond the summary row

    def write(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.requests.to_csv(folder / "requests.csv", index=False)
        self.steps.to_csv(folder / "steps.csv", index=False)
        pd.DataFrame([self.summary]).to_csv(folder / "summary.csv", index=False)
        (folder / "summary.json").write_text(json.dumps(
            {"summary": _json_safe(self.summary), "details": _json_safe(self.details)}, indent=1) + "\n")
        return folder


def read_result(folder: str | Path) -> RunResult:
    folder = Path(folder)
    try:
        requests = pd.read_csv(folder / "requests.csv")
        steps = pd.read_csv(folder / "steps.csv")
        document = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as error:
        raise SpecsimError(f"{folder}: not a run folder ({error})") from None
    return RunResult(requests, steps, document["summary"], document.get("details", {}))


def _json_safe(value: Any) -> Any:
    """JSON has no NaN: write null (undefined, e.g. TPOT percentiles when nothing finished)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return value
