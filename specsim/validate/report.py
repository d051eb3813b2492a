"""The validation report: one self-contained HTML page (plotly.js embedded once, works offline).

Per policy × load: the CDFs of TTFT and TPOT (real, its repeat, sim, sim with replayed
acceptance), step time predicted vs measured, and k and batch size over time in both worlds.

Step time "predicted vs measured": steps are grouped by composition (decoding batch size, longest
draft, whether prefill work rode along); a point is one composition seen in both runs, at the
real run's median step time (x) and the simulator's (y), sized by how often the real run met it.
A per-step prediction would need each step's context length, which contract-3 tables do not hold.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from specsim.results import RunResult
from specsim.validate.compare import format_table, verdict_line

COLOURS = {"real": "#222222", "real repeat": "#999999", "sim": "#d62728",
           "sim, replayed acceptance": "#1f77b4", "sim at the real run's speed": "#2ca02c",
           "sim, model": "#9467bd"}
TIME_BINS = 60


def write_report(path: str | Path, title: str, table: pd.DataFrame, points: list[dict[str, Any]],
                 notes: list[str] | None = None) -> Path:
    """`points`: one dict per policy × load with keys policy, load and runs ({name: RunResult},
    names among COLOURS)."""
    path = Path(path)
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p><b>{html.escape(verdict_line(table))}</b></p>"]
    for note in notes or []:
        parts.append(f"<p>{html.escape(note)}</p>")
    parts.append(f"<pre>{html.escape(format_table(table))}</pre>")
    include = True
    for point in points:
        figure = point_figure(point["policy"], point["load"], point["runs"])
        parts.append(figure.to_html(full_html=False, include_plotlyjs=include))
        include = False
    page = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    path.write_text(page)
    return path


def point_figure(policy: str, load: float, runs: dict[str, RunResult]) -> go.Figure:
    figure = make_subplots(rows=2, cols=3, subplot_titles=(
        "TTFT CDF", "TPOT CDF", "step time: sim vs real (by composition)",
        "mean k over time", "decoding batch size over time", "step time over time"))
    for name, run in runs.items():
        repeat = name.startswith("real repeat")
        colour = COLOURS["real repeat"] if repeat else COLOURS.get(name)
        line = {"color": colour, "dash": "dot" if repeat else None}
        for col, column in ((1, "ttft_s"), (2, "tpot_s")):
            x, y = _cdf(run.requests[column])
            figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name, line=line,
                                        showlegend=col == 1), row=1, col=col)
        for col, column in ((1, "k_mean"), (2, "batch_size"), (3, "step_s")):
            x, y = _over_time(run.steps, column)
            figure.add_trace(go.Scatter(x=x, y=y * (1000 if column == "step_s" else 1), mode="lines",
                                        name=name, legendgroup=name, line=line, showlegend=False),
                             row=2, col=col)
    real = runs.get("real")
    for name in ("sim", "sim, replayed acceptance"):
        if real is None or name not in runs:
            continue
        paired = step_time_pairs(real.steps, runs[name].steps)
        if paired.empty:
            continue
        sizes = 6 + 14 * np.sqrt(paired["count"] / paired["count"].max())
        text = [f"batch {b}, k_max {k}, prefill {'yes' if p else 'no'}, {c} steps"
                for b, k, p, c in zip(paired["batch_size"], paired["k_max"], paired["prefill"],
                                      paired["count"], strict=True)]
        figure.add_trace(go.Scatter(x=paired["real_s"] * 1000, y=paired["sim_s"] * 1000, mode="markers",
                                    name=name, legendgroup=name, showlegend=False, text=text,
                                    marker={"color": COLOURS[name], "size": sizes, "opacity": 0.7}),
                         row=1, col=3)
    if real is not None and len(real.steps):
        top = float(np.percentile(real.steps["step_s"], 99)) * 1000 * 1.2
        figure.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="identity",
                                    line={"color": "#bbbbbb", "dash": "dash"}, showlegend=False),
                         row=1, col=3)
    for col, label in ((1, "TTFT (s)"), (2, "TPOT (s)"), (3, "real step time (ms)")):
        figure.update_xaxes(title_text=label, row=1, col=col)
    figure.update_yaxes(title_text="share of requests", row=1, col=1)
    figure.update_yaxes(title_text="sim step time (ms)", row=1, col=3)
    for col in (1, 2, 3):
        figure.update_xaxes(title_text="time (s)", row=2, col=col)
    figure.update_yaxes(title_text="ms", row=2, col=3)
    figure.update_layout(title=f"{policy} @ load {load:g}", height=760, width=1400)
    return figure


def step_time_pairs(real_steps: pd.DataFrame, sim_steps: pd.DataFrame) -> pd.DataFrame:
    """Median step time per composition (batch size, longest draft, prefill or not) in both runs."""
    def grouped(steps: pd.DataFrame) -> pd.DataFrame:
        keyed = steps.assign(prefill=steps["prefill_tokens"] > 0)
        return keyed.groupby(["batch_size", "k_max", "prefill"])["step_s"].agg(["median", "size"])

    real, sim = grouped(real_steps), grouped(sim_steps)
    joined = real.reset_index().merge(sim.reset_index(), on=["batch_size", "k_max", "prefill"],
                                      suffixes=("_real", "_sim"))
    return pd.DataFrame({"batch_size": joined["batch_size"], "k_max": joined["k_max"],
                         "prefill": joined["prefill"], "real_s": joined["median_real"],
                         "sim_s": joined["median_sim"], "count": joined["size_real"]})


def _cdf(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    present = np.sort(values.dropna().to_numpy(dtype=np.float64))
    return present, np.arange(1, len(present) + 1) / max(len(present), 1)


def _over_time(steps: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The column's mean over TIME_BINS equal time bins (decode steps only for k and batch)."""
    if column != "step_s":
        steps = steps[steps["batch_size"] > 0]
    if steps.empty:
        return np.empty(0), np.empty(0)
    times = steps["t_s"].to_numpy()
    edges = np.linspace(times.min(), times.max() + 1e-9, TIME_BINS + 1)
    which = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, TIME_BINS - 1)
    sums = np.bincount(which, weights=steps[column].to_numpy(dtype=np.float64), minlength=TIME_BINS)
    counts = np.bincount(which, minlength=TIME_BINS)
    keep = counts > 0
    centres = (edges[:-1] + edges[1:]) / 2
    return centres[keep], sums[keep] / counts[keep]
