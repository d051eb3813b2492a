"""A run's three tables, written to and read from a folder:
`requests.csv`, `steps.csv`, `summary.csv` (one row) and `summary.json` (the same row).

CSV by default: diffable, byte-identical for identical runs, and readable everywhere. Parquet
(`format="parquet"`, needs pyarrow: `pip install 'specsim[parquet]'`) for the requests and steps
tables of hour-long runs, whose steps table runs to millions of rows; the summary stays CSV/JSON.
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

    def write(self, folder: str | Path, format: str = "csv") -> Path:
        folder = Path(folder)
        check_format(format)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in (("requests", self.requests), ("steps", self.steps)):
            if format == "parquet":
                table.to_parquet(folder / f"{name}.parquet", index=False)
            else:
                table.to_csv(folder / f"{name}.csv", index=False)
        pd.DataFrame([self.summary]).to_csv(folder / "summary.csv", index=False)
        (folder / "summary.json").write_text(json.dumps(
            {"summary": _json_safe(self.summary), "details": _json_safe(self.details)}, indent=1) + "\n")
        return folder


def read_result(folder: str | Path) -> RunResult:
    folder = Path(folder)
    try:
        if (folder / "requests.parquet").exists():
            requests, steps = (pd.read_parquet(folder / f"{name}.parquet") for name in ("requests", "steps"))
        else:
            requests, steps = (pd.read_csv(folder / f"{name}.csv") for name in ("requests", "steps"))
        document = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as error:
        raise SpecsimError(f"{folder}: not a run folder ({error})") from None
    return RunResult(requests, steps, document["summary"], document.get("details", {}))


TABLE_FORMATS = ("csv", "parquet")


def check_format(format: str) -> None:
    """A table format this installation can write; one line otherwise."""
    if format not in TABLE_FORMATS:
        raise SpecsimError(f"--format {format}: expected one of {', '.join(TABLE_FORMATS)}")
    if format == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SpecsimError("--format parquet needs pyarrow: pip install 'specsim[parquet]'") from None


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
