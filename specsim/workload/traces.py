"""Read public LLM request traces into one table: arrival_s, prompt_tokens, output_tokens[, category].

Formats, recognised by their own column names:
- azure:    Azure LLM inference trace, `TIMESTAMP,ContextTokens,GeneratedTokens`, TIMESTAMP a
            datetime string (7-digit fractions included); times become seconds since the first row.
- burstgpt: BurstGPT, `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`,
            Timestamp in seconds.
- mooncake: Mooncake JSONL, one object per line with `timestamp` (ms), `input_length`,
            `output_length`; other keys (hash_ids, ...) are ignored.
- csv:      `arrival_s,prompt_tokens,output_tokens[,category]`.

Times stay absolute (the replay window rebases them). Rows with 0 output tokens are failed
requests (BurstGPT logs them so): they are dropped and counted in `frame.attrs["failed_requests"]`.
A bad row is refused with its *file line number* (the header of a CSV is line 1).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from specsim.errors import SpecsimError, describe_value
from specsim.workload.spec import TraceFormat


@dataclass(frozen=True)
class _Layout:
    time: str
    prompt: str
    output: str
    category: str | None = None  # optional column: used when present
    time_unit_s: float = 1.0
    time_is_datetime: bool = False


_LAYOUTS: dict[str, _Layout] = {
    "azure": _Layout("TIMESTAMP", "ContextTokens", "GeneratedTokens", time_is_datetime=True),
    "burstgpt": _Layout("Timestamp", "Request tokens", "Response tokens"),
    "mooncake": _Layout("timestamp", "input_length", "output_length", time_unit_s=1e-3),
    "csv": _Layout("arrival_s", "prompt_tokens", "output_tokens", category="category"),
}


def load_trace(format: TraceFormat, path: Path | str) -> pd.DataFrame:
    """The trace at `path` as a DataFrame sorted by `arrival_s` (float seconds).

    Columns: arrival_s, prompt_tokens, output_tokens (int64), plus category (str) for a plain
    CSV that has one. Raises SpecsimError naming the file (and the line, for a bad row).
    """
    if format not in _LAYOUTS:
        raise SpecsimError(f"{path}: unknown trace format {format!r}; expected one of {sorted(_LAYOUTS)}")
    path = Path(path).expanduser()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SpecsimError(f"{path}: trace file not found") from None
    except OSError as error:
        raise SpecsimError(f"{path}: cannot read trace: {error.strerror or error}") from None
    if path.is_dir():
        raise SpecsimError(f"{path}: is a directory, not a trace file")
    # sweeps replay one trace many times per process: parse once per file version
    frame = _load_cached(format, str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(path))
    copy = frame.copy()
    copy.attrs = dict(frame.attrs)
    return copy


@functools.lru_cache(maxsize=8)
def _load_cached(format: str, resolved: str, mtime_ns: int, size: int, shown: str) -> pd.DataFrame:
    layout = _LAYOUTS[format]
    path = Path(resolved)
    if format == "mooncake":
        raw, lines = _read_jsonl(path, layout, shown)
    else:
        raw, lines = _read_csv(path, layout, shown, format)
    return _standardise(raw, lines, layout, shown)


def _cannot_read(shown: str, error: Exception) -> SpecsimError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return SpecsimError(f"{shown}: cannot read trace: {reason}")


def _read_csv(path: Path, layout: _Layout, shown: str, format: str) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        # blank lines kept as empty rows (then dropped) so the index still maps to file lines
        frame = pd.read_csv(path, skipinitialspace=True, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise SpecsimError(f"{shown}: trace is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, ValueError) as error:
        raise _cannot_read(shown, error) from None
    frame.columns = [str(name).strip() for name in frame.columns]
    for column in (layout.time, layout.prompt, layout.output):
        if column not in frame.columns:
            raise SpecsimError(
                f"{shown}: missing column {column!r} for a {format} trace "
                f"(found {', '.join(map(repr, frame.columns))})"
            )
    frame = frame.dropna(how="all")
    lines = frame.index.to_numpy() + 2  # the header is line 1
    return frame.reset_index(drop=True), lines


def _read_jsonl(path: Path, layout: _Layout, shown: str) -> tuple[pd.DataFrame, np.ndarray]:
    keys = (layout.time, layout.prompt, layout.output)
    rows: list[tuple[object, ...]] = []
    lines: list[int] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line_number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as error:
                    raise SpecsimError(f"{shown}: line {line_number}: not valid JSON ({error.msg})") from None
                if not isinstance(record, dict):
                    raise SpecsimError(f"{shown}: line {line_number}: expected a JSON object")
                absent = [key for key in keys if key not in record]
                if absent:
                    raise SpecsimError(f"{shown}: line {line_number}: missing key {absent[0]!r}")
                rows.append(tuple(record[key] for key in keys))
                lines.append(line_number)
    except (OSError, UnicodeDecodeError) as error:
        raise _cannot_read(shown, error) from None
    frame = pd.DataFrame(rows, columns=list(keys), dtype=object)
    return frame, np.asarray(lines, dtype=np.int64)


def _standardise(raw: pd.DataFrame, lines: np.ndarray, layout: _Layout, shown: str) -> pd.DataFrame:
    if len(raw) == 0:
        raise SpecsimError(f"{shown}: trace has no requests")
    if layout.time_is_datetime:
        arrival_s = _datetimes_s(raw[layout.time], lines, shown, layout.time)
    else:
        arrival_s = _numbers(raw[layout.time], lines, shown, layout.time) * layout.time_unit_s
    earlier = np.flatnonzero(np.diff(arrival_s) < 0)
    if earlier.size:
        row = earlier[0] + 1
        raise SpecsimError(
            f"{shown}: line {lines[row]}: column {layout.time!r} goes back in time "
            f"({_cell(raw[layout.time], row)} after {_cell(raw[layout.time], row - 1)});"
            " a trace must be sorted by time"
        )
    _refuse_first(arrival_s < 0, lines, shown, f"column {layout.time!r} is negative", raw[layout.time])
    prompt_tokens = _token_counts(raw[layout.prompt], lines, shown, layout.prompt)
    output_tokens = _token_counts(raw[layout.output], lines, shown, layout.output)
    _refuse_first(output_tokens < 0, lines, shown,
                  f"column {layout.output!r} is negative", raw[layout.output])
    failed = output_tokens == 0
    # a failed request's prompt length is not checked: it is dropped either way
    _refuse_first((prompt_tokens < 1) & ~failed, lines, shown,
                  f"column {layout.prompt!r} must be at least 1", raw[layout.prompt])
    table = {"arrival_s": arrival_s, "prompt_tokens": prompt_tokens, "output_tokens": output_tokens}
    if layout.category is not None and layout.category in raw.columns:
        categories = raw[layout.category]
        empty = categories.isna().to_numpy() | (categories.astype(str).str.strip() == "").to_numpy()
        _refuse_first(empty, lines, shown, f"column {layout.category!r} is empty", categories)
        table["category"] = categories.astype(str).str.strip().to_numpy()
    frame = pd.DataFrame(table)[~failed].reset_index(drop=True)
    if len(frame) == 0:
        raise SpecsimError(f"{shown}: trace has no requests with output tokens")
    frame.attrs["failed_requests"] = int(failed.sum())
    frame.attrs["source"] = shown
    return frame


def _refuse_first(bad: np.ndarray, lines: np.ndarray, shown: str, what: str, raw: pd.Series) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SpecsimError(f"{shown}: line {lines[row]}: {what}, got {_cell(raw, row)}")


def _cell(raw: pd.Series, row: int) -> str:
    value = raw.iloc[row]
    # numpy scalars repr as "np.int64(3)": show the plain value the file holds
    return describe_value(value.item() if isinstance(value, np.generic) else value)


def _numbers(raw: pd.Series, lines: np.ndarray, shown: str, column: str) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        original = raw.iloc[row]
        if pd.isna(original) or str(original).strip() == "":
            raise SpecsimError(f"{shown}: line {lines[row]}: column {column!r} is empty")
        raise SpecsimError(
            f"{shown}: line {lines[row]}: column {column!r} is not a finite number, got {_cell(raw, row)}"
        )
    return values


def _token_counts(raw: pd.Series, lines: np.ndarray, shown: str, column: str) -> np.ndarray:
    values = _numbers(raw, lines, shown, column)
    _refuse_first(values != np.floor(values), lines, shown, f"column {column!r} is not a whole number", raw)
    return values.astype(np.int64)


def _datetimes_s(raw: pd.Series, lines: np.ndarray, shown: str, column: str) -> np.ndarray:
    empty = raw.isna().to_numpy()
    _refuse_first(empty, lines, shown, f"column {column!r} is empty", raw)
    try:
        # ISO8601 mode parses Azure's 7-digit fractions, which strptime's %f refuses
        stamps = pd.to_datetime(raw.astype(str), format="ISO8601", errors="coerce")
    except (ValueError, TypeError) as error:  # e.g. time zones mixed with naive times
        raise SpecsimError(f"{shown}: column {column!r}: cannot parse timestamps ({error})") from None
    _refuse_first(stamps.isna().to_numpy(), lines, shown, f"column {column!r} is not a timestamp", raw)
    return (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64)
