"""The sweep's one self-contained HTML page: each metric versus load, one line per policy, with
the SLO targets drawn on the latency panels; then, for each policy that decides its k step by
step, one run at the sweep's highest point: k and the batch size over time, and k against the
batch size — the picture the adaptive-speculation papers argue with.

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
                       runs: dict[str, pd.DataFrame] | None = None, runs_label: str = "",
                       slo_lines: dict[str, list[tuple[str, float]]] | None = None) -> Path:
    """`runs`: policy label → the steps table of its run at one point (`runs_label` says which);
    `slo_lines`: "ttft" / "tpot" → (label, seconds) targets drawn on those panels."""
    figures = [_metrics_figure(points, grid_axes, slo_lines or {})]
    if runs:
        figures.append(_runs_figure(runs, runs_label))
    parts = [figure.to_html(full_html=False, include_plotlyjs=(index == 0))
             for index, figure in enumerate(figures)]
    heading = html.escape(title)
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{heading}</title></head>\n"
        f"<body style='font-family: sans-serif'>\n<h1>{heading}</h1>\n"
        f"<p>{len(points)} runs. Lines: mean over seeds; bars: min–max across seeds; dashed: the SLO "
        "targets.</p>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _metrics_figure(points: pd.DataFrame, grid_axes: list[str],
                    slo_lines: dict[str, list[tuple[str, float]]]) -> go.Figure:
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
    for panel, (column, _, unit) in enumerate(PANELS):
        row, col = panel // 2 + 1, panel % 2 + 1
        figure.update_yaxes(title_text=unit, row=row, col=col)
        figure.update_xaxes(title_text=x_axis, row=row, col=col)
        for label, seconds in slo_lines.get(column.split("_")[0], []):
            figure.add_hline(y=seconds, line_dash="dash", line_color="#555", line_width=1,
                             annotation_text=label, annotation_position="top left", row=row, col=col)
    figure.update_layout(height=320 * rows, title="Metrics versus load")
    return figure


def _runs_figure(runs: dict[str, pd.DataFrame], label: str) -> go.Figure:
    """Per policy: mean k and the decoding batch over time (replica 0), and k against the batch."""
    titles = []
    for policy in runs:
        titles += [f"{policy}: k and batch size over time", f"{policy}: k against batch size"]
    figure = make_subplots(rows=len(runs), cols=2, subplot_titles=titles, column_widths=[0.65, 0.35],
                           vertical_spacing=min(0.08, 0.3 / len(runs)),
                           specs=[[{"secondary_y": True}, {}] for _ in runs])
    for row, (policy, steps) in enumerate(runs.items(), start=1):
        colour = _colour(row - 1)
        first = steps[steps["replica"] == steps["replica"].min()]
        decoding = steps[steps["batch_size"] > 0]
        figure.add_trace(go.Scattergl(x=first["t_s"], y=first["k_mean"], mode="lines", name=f"{policy} k",
                                      line={"color": colour, "width": 1}), row=row, col=1)
        figure.add_trace(go.Scattergl(x=first["t_s"], y=first["batch_size"], mode="lines",
                                      name=f"{policy} batch", line={"color": "#999", "width": 1}),
                         row=row, col=1, secondary_y=True)
        figure.add_trace(go.Scattergl(x=decoding["batch_size"], y=decoding["k_mean"], mode="markers",
                                      name=f"{policy} steps", showlegend=False,
                                      marker={"color": colour, "size": 3, "opacity": 0.4}), row=row, col=2)
        figure.update_yaxes(title_text="mean k", row=row, col=1, secondary_y=False)
        figure.update_yaxes(title_text="batch", row=row, col=1, secondary_y=True)
        figure.update_xaxes(title_text="simulated time (s)", row=row, col=1)
        figure.update_xaxes(title_text="decoding batch size", row=row, col=2)
        figure.update_yaxes(title_text="mean k", row=row, col=2)
    figure.update_layout(height=330 * len(runs), title=f"Step by step, each policy that decides k: {label}")
    return figure


def _colour(index: int) -> str:
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")
    return palette[index % len(palette)]
