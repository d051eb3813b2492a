"""The sweep's one self-contained HTML page: each metric versus load, one line per policy, and
one run's step-by-step batch size and draft length.

"Load" is the sweep's first grid axis (a rate scale, a rate, an SLO scale…); with several axes,
each combination of the others gets its own line. Seeds are averaged, and the spread across
seeds is drawn as an error bar (min to max), so one lucky seed cannot hide.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# (summary column, panel title, axis unit): the panels, in reading order.
PANELS = (
    ("goodput_requests_per_s", "Goodput", "SLO-meeting requests/s"),
    ("slo_attainment", "SLO attainment", "share of requests"),
    ("ttft_p50_s", "TTFT p50", "s"),
    ("ttft_p99_s", "TTFT p99", "s"),
    ("tpot_p50_s", "TPOT p50", "s"),
    ("tpot_p99_s", "TPOT p99", "s"),
    ("throughput_tokens_per_s", "Throughput", "tokens/s"),
    ("mean_k", "Mean draft length k", "tokens"),
)


def write_sweep_report(points: pd.DataFrame, grid_axes: list[str], title: str, path: Path,
                       timeline: pd.DataFrame | None = None, timeline_label: str = "") -> Path:
    figures = [_metrics_figure(points, grid_axes)]
    if timeline is not None and len(timeline):
        figures.append(_timeline_figure(timeline, timeline_label))
    parts = [figure.to_html(full_html=False, include_plotlyjs=(index == 0))
             for index, figure in enumerate(figures)]
    heading = html.escape(title)
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{heading}</title></head>\n"
        f"<body style='font-family: sans-serif'>\n<h1>{heading}</h1>\n"
        f"<p>{len(points)} runs. Lines: mean over seeds; bars: min–max across seeds.</p>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _metrics_figure(points: pd.DataFrame, grid_axes: list[str]) -> go.Figure:
    x_axis = grid_axes[0] if grid_axes else "policy"
    other_axes = grid_axes[1:]
    rows = (len(PANELS) + 1) // 2
    figure = make_subplots(rows=rows, cols=2, subplot_titles=[title for _, title, _ in PANELS],
                           vertical_spacing=0.08)
    group_columns = ["policy", *other_axes]
    for group_index, (group, frame) in enumerate(points.groupby(group_columns, sort=False)):
        keys = group if isinstance(group, tuple) else (group,)
        settings = zip(other_axes, keys[1:], strict=True)
        name = ", ".join([str(keys[0]), *(f"{axis}={value}" for axis, value in settings)])
        by_x = frame.groupby(x_axis, sort=True)
        for panel, (column, _, _) in enumerate(PANELS):
            stats = by_x[column].agg(["mean", "min", "max"])
            figure.add_trace(
                go.Scatter(
                    x=[str(value) for value in stats.index] if x_axis == "policy" else stats.index,
                    y=stats["mean"], mode="lines+markers", name=name, legendgroup=name,
                    showlegend=panel == 0, line={"color": _colour(group_index)},
                    error_y={"type": "data", "symmetric": False, "array": stats["max"] - stats["mean"],
                             "arrayminus": stats["mean"] - stats["min"], "thickness": 1},
                ),
                row=panel // 2 + 1, col=panel % 2 + 1,
            )
    for panel, (_, _, unit) in enumerate(PANELS):
        figure.update_yaxes(title_text=unit, row=panel // 2 + 1, col=panel % 2 + 1)
        figure.update_xaxes(title_text=x_axis, row=panel // 2 + 1, col=panel % 2 + 1)
    figure.update_layout(height=320 * rows, title="Metrics versus load")
    return figure


def _timeline_figure(steps: pd.DataFrame, label: str) -> go.Figure:
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True,
                           subplot_titles=["Running batch size", "Draft length k (batch mean, and max)"])
    for replica, frame in steps.groupby("replica", sort=True):
        colour = _colour(int(replica))
        figure.add_trace(go.Scattergl(x=frame["t_s"], y=frame["batch_size"], mode="lines",
                                      name=f"replica {replica}", legendgroup=str(replica),
                                      line={"color": colour, "width": 1}), row=1, col=1)
        figure.add_trace(go.Scattergl(x=frame["t_s"], y=frame["k_mean"], mode="lines",
                                      name=f"replica {replica} mean k", legendgroup=str(replica),
                                      showlegend=False, line={"color": colour, "width": 1}), row=2, col=1)
        figure.add_trace(go.Scattergl(x=frame["t_s"], y=frame["k_max"], mode="markers",
                                      name=f"replica {replica} max k", legendgroup=str(replica),
                                      showlegend=False, marker={"color": colour, "size": 2}), row=2, col=1)
    figure.update_xaxes(title_text="simulated time (s)", row=2, col=1)
    figure.update_yaxes(title_text="requests", row=1, col=1)
    figure.update_yaxes(title_text="tokens", row=2, col=1)
    figure.update_layout(height=600, title=f"One run, step by step: {label}")
    return figure


def _colour(index: int) -> str:
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")
    return palette[index % len(palette)]
