"""The error table: simulated vs real, per policy × load × metric, and the verdict.

Every number is recomputed from the runs' two tables with `specsim.metrics.summarize`, so a real
and a simulated run are judged by the same arithmetic. Errors:

- relative for latencies, throughput, mean accepted length and mean k: (sim − real) / real
  (0 when both are 0; ±inf when only the real value is 0);
- in percentage points for SLO attainment: 100 · (sim − real).

A metric with a threshold passes when |error| ≤ threshold; both values undefined (NaN: e.g. no
TPOT because nothing finished, or no accepted length under `none`) passes, one undefined fails.
Mean accepted length and mean k are reported, not gated: they explain a latency error, and the
latencies already carry their effect. Columns `replay`/`replay_error` are the simulator with the
real run's measured acceptance replayed (what is left there is timing error);
`at_real_speed`/`at_real_speed_error` replay the acceptance and scale the forwards to the speed the
machine ran at during the real run, decode and prefill apart (`speed.py`: what is left there is
neither acceptance nor the machine's speed drift, but the rest of the model); `model`/`model_error`
the simulator with each step's forwards scaled by the real run's speed(t) at that instant (its
forwards' measured time over the profile's price for the same step composition, smoothed: the
batching, admission, queueing, prefill and acceptance models with the machine's drift taken out);
all three are diagnostics, never gated — `diagnostics_line` counts what each would fail. `noise` is the
real runs' own spread at the point: the largest difference of a repeat from the first real run, in
the same unit as the error — the floor under which the simulator cannot be judged.

Each gated metric's status: PASS (|error| ≤ threshold); UNRESOLVED where it is over the threshold
but so is the real runs' own spread — this machine cannot tell there whether the simulator is
wrong; FAIL otherwise. The verdict: PASS when every gated metric passes, FAIL when any fails,
UNRESOLVED when none fails but some are unresolved. Thresholds are never widened to pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from specsim.metrics import summarize
from specsim.results import RunResult


@dataclass(frozen=True)
class Thresholds:
    median: float = 0.05  # relative, median TTFT and TPOT
    p99: float = 0.10  # relative, p99 TTFT and TPOT
    throughput: float = 0.05  # relative
    attainment_points: float = 3.0  # percentage points

    def for_group(self, group: str | None) -> float | None:
        return None if group is None else getattr(self, group)


DEFAULT_THRESHOLDS = Thresholds()

# (summary key, label, unit, threshold group)
METRICS: tuple[tuple[str, str, str, str | None], ...] = (
    ("ttft_p50_s", "median TTFT", "rel", "median"),
    ("ttft_p99_s", "p99 TTFT", "rel", "p99"),
    ("tpot_p50_s", "median TPOT", "rel", "median"),
    ("tpot_p99_s", "p99 TPOT", "rel", "p99"),
    ("throughput_tokens_per_s", "throughput", "rel", "throughput"),
    ("slo_attainment", "SLO attainment", "points", "attainment_points"),
    ("mean_accepted_length", "mean accepted length", "rel", None),
    ("mean_k", "mean k", "rel", None),
)

# the simulations beside the gated one (column → the text table's header): each gets a value
# column and an error column
OTHER_SIMULATIONS = {"replay": "replay", "at_real_speed": "real speed", "model": "model"}
TABLE_COLUMNS = ("policy", "load", "metric", "label", "unit", "real", "sim", "error",
                 *(column for name in OTHER_SIMULATIONS for column in (name, f"{name}_error")),
                 "noise", "threshold", "passed", "status")
PASS, FAIL, UNRESOLVED = "PASS", "FAIL", "UNRESOLVED"


def table_summary(result: RunResult) -> dict[str, Any]:
    """The summary row of a run, recomputed from its tables."""
    window = float(result.summary.get("arrival_window_s", math.nan))
    return summarize(result.requests, result.steps, scenario=str(result.summary.get("scenario", "")),
                     policy=str(result.summary.get("policy", "")), seed=int(result.summary.get("seed", 0)),
                     arrival_window_s=window)


def metric_error(real: float, sim: float, unit: str) -> float:
    """sim − real, relative to real (unit 'rel') or in percentage points of a share ('points')."""
    if math.isnan(real) or math.isnan(sim):
        return math.nan
    if unit == "points":
        return 100.0 * (sim - real)
    if real == 0:
        return 0.0 if sim == 0 else math.copysign(math.inf, sim)
    return (sim - real) / abs(real)


def passes(real: float, sim: float, error: float, threshold: float | None) -> bool | None:
    if threshold is None:
        return None
    if math.isnan(real) and math.isnan(sim):
        return True
    if math.isnan(error):
        return False
    return within_threshold(error, threshold)


def within_threshold(error: float, threshold: float) -> bool:
    """|error| ≤ threshold, the threshold itself included (float noise of the subtraction aside)."""
    return abs(error) <= threshold + 1e-12


def compare_point(policy: str, load: float, real: RunResult, sim: RunResult, *,
                  replay: RunResult | None = None, at_real_speed: RunResult | None = None,
                  model: RunResult | None = None, repeat: RunResult | Sequence[RunResult] | None = None,
                  thresholds: Thresholds = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """The error table's rows for one policy × load; `repeat`: the point's other real runs."""
    runs = {"real": real, "sim": sim, "replay": replay, "at_real_speed": at_real_speed, "model": model}
    summaries = {name: table_summary(run) for name, run in runs.items() if run is not None}
    repeats = [repeat] if isinstance(repeat, RunResult) else list(repeat or [])
    repeat_summaries = [table_summary(run) for run in repeats]
    rows = []
    for key, label, unit, group in METRICS:
        real_value = float(summaries["real"][key])
        sim_value = float(summaries["sim"][key])
        error = metric_error(real_value, sim_value, unit)
        threshold = thresholds.for_group(group)
        row = {"policy": policy, "load": float(load), "metric": key, "label": label, "unit": unit,
               "real": real_value, "sim": sim_value, "error": error}
        for name in OTHER_SIMULATIONS:
            row[name], row[f"{name}_error"] = _beside_real(summaries.get(name), key, real_value, unit)
        noise = _spread(repeat_summaries, key, real_value, unit)
        passed = passes(real_value, sim_value, error, threshold)
        row.update({"noise": noise, "threshold": math.nan if threshold is None else threshold,
                    "passed": passed, "status": _status(passed, noise, threshold)})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _beside_real(summary: dict[str, Any] | None, key: str, real_value: float, unit: str
                 ) -> tuple[float, float]:
    """(a run's value, its difference from the real run's), NaN for a run that was not made."""
    if summary is None:
        return math.nan, math.nan
    value = float(summary[key])
    return value, metric_error(real_value, value, unit)


def _spread(repeats: list[dict[str, Any]], key: str, real_value: float, unit: str) -> float:
    """The repeats' largest difference from the first real run (signed; NaN without repeats)."""
    differences = [metric_error(real_value, float(summary[key]), unit) for summary in repeats]
    differences = [d for d in differences if not math.isnan(d)]
    return max(differences, key=abs) if differences else math.nan


def _status(passed: bool | None, noise: float, threshold: float | None) -> str | None:
    if passed is None:
        return None
    if passed:
        return PASS
    unresolved = threshold is not None and not math.isnan(noise) and not within_threshold(noise, threshold)
    return UNRESOLVED if unresolved else FAIL


def failing_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Gated metrics over their thresholds, unresolved ones included."""
    gated = table[table["passed"].notna()]
    return gated[~gated["passed"].astype(bool)]


def verdict_status(table: pd.DataFrame) -> str:
    """FAIL if any gated metric fails, UNRESOLVED if none fails but some are unresolved, else PASS."""
    statuses = set(table["status"].dropna())
    return FAIL if FAIL in statuses else UNRESOLVED if UNRESOLVED in statuses else PASS


def verdict(table: pd.DataFrame) -> tuple[bool, list[str]]:
    """(all gated metrics pass, one line per metric over its threshold, its status said)."""
    failing = failing_rows(table)
    return failing.empty, _failure_lines(failing)


def _failure_lines(failing: pd.DataFrame) -> list[str]:
    lines = []
    for row in failing.itertuples():
        detail = f"threshold {_format_threshold(row.threshold, row.unit)}"
        if row.status == UNRESOLVED:
            spread = _format_error(row.noise, row.unit)
            detail = f"UNRESOLVED: the real runs' own spread is {spread}, {detail}"
        lines.append(f"{row.policy} @ load {row.load:g}: {row.label} {_format_error(row.error, row.unit)} "
                     f"({detail})")
    return lines


def verdict_line(table: pd.DataFrame) -> str:
    gated = int(table["passed"].notna().sum())
    failing = failing_rows(table)
    status = verdict_status(table)
    if status == PASS:
        return f"verdict: PASS — all {gated} gated metrics within thresholds"
    unresolved = int((failing["status"] == UNRESOLVED).sum())
    if status == UNRESOLVED:
        return (f"verdict: UNRESOLVED — none fails; {unresolved} of {gated} gated metrics are over their "
                "thresholds where the real runs disagree with each other by more than the threshold: "
                + "; ".join(_failure_lines(failing)))
    return (f"verdict: FAIL — {len(failing)} of {gated} gated metrics over thresholds"
            f" ({unresolved} of them unresolved: the real runs' own spread over the threshold): "
            + "; ".join(_failure_lines(failing)))


# (column, header) of the text table after `real`: each value column is followed by its error
TEXT_COLUMNS = (("sim", "sim"), *OTHER_SIMULATIONS.items())


def error_column(column: str) -> str:
    return "error" if column == "sim" else f"{column}_error"


def format_table(table: pd.DataFrame, title: str = "") -> str:
    """The error table as text, one block per policy × load, and the verdict line."""
    lines = [title] if title else []
    header = (f"  {'metric':<22}{'real':>12}" + "".join(f"{name:>12}{'error':>9}" for _, name in TEXT_COLUMNS)
              + f"{'noise':>9}{'limit':>8}  ok")
    for (policy, load), block in table.groupby(["policy", "load"], sort=False):
        lines += ["", f"{policy} @ load {load:g}", header]
        for row in block.to_dict("records"):
            passed = row["passed"]
            ok = "" if passed is None or (isinstance(passed, float) and math.isnan(passed)) \
                else ("yes" if passed else "NO")
            metric, unit = row["metric"], row["unit"]
            cells = "".join(f"{_format_value(row[column], metric):>12}"
                            f"{_format_error(row[error_column(column)], unit):>9}"
                            for column, _ in TEXT_COLUMNS)
            lines.append(f"  {row['label']:<22}{_format_value(row['real'], metric):>12}{cells}"
                         f"{_format_error(row['noise'], unit):>9}"
                         f"{_format_threshold(row['threshold'], unit):>8}  {ok}")
    extra = [line for line in (noise_line(table), noise_over_thresholds_line(table), diagnostics_line(table))
             if line]
    lines += ["", *extra, verdict_line(table)]
    return "\n".join(lines)


def diagnostics_line(table: pd.DataFrame) -> str:
    """How many gated metrics each diagnostic simulation would have put over the thresholds ('' when
    none ran): where the error comes from, at a glance."""
    gated = table[table["passed"].notna()]
    parts = []
    for column, name in OTHER_SIMULATIONS.items():
        errors = gated[f"{column}_error"]
        if errors.isna().all():
            continue
        over = sum(not passes(real, value, error, threshold) for real, value, error, threshold
                   in zip(gated["real"], gated[column], errors, gated["threshold"], strict=True))
        parts.append(f"{name} {over}")
    if not parts:
        return ""
    return f"over the thresholds had each diagnostic been gated (of {len(gated)}): " + ", ".join(parts)


def noise_line(table: pd.DataFrame) -> str:
    """The largest real-run spread per gated metric over all points ('' without repeats)."""
    parts = []
    for block in _gated_noise_by_metric(table):
        largest = _format_error(block["noise"].abs().max(), block["unit"].iloc[0]).lstrip("+")
        parts.append(f"{block['label'].iloc[0]} {largest}")
    if not parts:
        return ""
    return "real-run repeat noise (largest |repeat − real| over the points): " + ", ".join(parts)


def noise_over_thresholds_line(table: pd.DataFrame) -> str:
    """Per gated metric, at how many points the real run's own repeat missed it by more than its
    threshold ('' when at none): there two real runs disagree by more than the simulator may, so
    this machine cannot judge the simulator at that threshold — a failure there says as much about
    the machine as about the model."""
    parts = []
    for block in _gated_noise_by_metric(table):
        over = sum(not within_threshold(noise, threshold)
                   for noise, threshold in zip(block["noise"], block["threshold"], strict=True))
        if over:
            parts.append(f"{block['label'].iloc[0]} at {over} of {len(block)}")
    if not parts:
        return ""
    return ("the real runs' repeat noise itself over the threshold (this machine cannot judge the simulator "
            "that finely there): " + ", ".join(parts) + " points")


def _gated_noise_by_metric(table: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Per gated metric, in table order, its rows that have a real-run repeat."""
    gated = table[table["threshold"].notna() & table["noise"].notna()]
    for _, block in gated.groupby("metric", sort=False):
        yield block


def _format_value(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric == "throughput_tokens_per_s":
        return f"{value:.1f} tok/s"
    if metric.endswith("_s"):
        return f"{value * 1000:.1f} ms"
    if metric == "slo_attainment":
        return f"{value * 100:.1f}%"
    return f"{value:.2f}"


def _format_error(error: float, unit: str) -> str:
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return "–"
    if np.isinf(error):
        return "+inf" if error > 0 else "-inf"
    return f"{error:+.1f}pt" if unit == "points" else f"{error * 100:+.1f}%"


def _format_threshold(threshold: float, unit: str) -> str:
    if threshold is None or math.isnan(threshold):
        return ""
    return f"{threshold:g}pt" if unit == "points" else f"{threshold * 100:g}%"
