"""A self-contained HTML page of a profile: latency grids with their fits, prefill curves and the
acceptance model (confidence histograms, P(accept | confidence), per-position acceptance).

The page inlines plotly.js once, so it opens offline; the remaining figures reuse it.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from specsim.profile.engine import EngineModel
from specsim.profile.fit import predict
from specsim.profile.schema import Acceptance, LatencyFit, PrefillGrid, Profile
from specsim.profile.summary import summary_text

# Contexts drawn in the latency figures (the nearest grid contexts are used).
SHOWN_CONTEXTS = (128, 1024, 4096, 8192)
VERIFY_CONTEXT = 1024


def write_html(profile: Profile, path: str | Path) -> Path:
    path = Path(path)
    figures = [_draft_figure(profile), _verify_figure(profile), _prefill_figure(profile)]
    if profile.engine is not None and profile.engine.composition == "fused":
        figures.append(_fused_forward_figure(profile))
    if profile.acceptance is not None:
        figures += _acceptance_figures(profile.acceptance)
    parts = [figure.to_html(full_html=False, include_plotlyjs=(index == 0))
             for index, figure in enumerate(figures)]
    title = html.escape(f"specsim profile {profile.name}")
    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>\n"
        f"<body style='font-family: sans-serif'>\n<h1>{title}</h1>\n"
        f"<pre>{html.escape(summary_text(profile))}</pre>\n"
        f"<p>{html.escape(profile.notes)}</p>\n"
        + _citation_list(profile)
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _citation_list(profile: Profile) -> str:
    citations = list(profile.citations)
    if profile.acceptance is not None:
        citations += profile.acceptance.citations
    if not citations:
        return ""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in citations)
    return f"<h2>Sources</h2>\n<ul>{items}</ul>\n"


def _nearest(values: list[int], wanted: tuple[int, ...]) -> list[int]:
    indices = {int(np.argmin(np.abs(np.asarray(values) - w))) for w in wanted}
    return sorted(indices)


def _draft_figure(profile: Profile) -> go.Figure:
    grid = profile.latency.draft_step
    times_ms = np.asarray(grid.time_s) * 1e3
    figure = go.Figure()
    for index in _nearest(grid.context_tokens, SHOWN_CONTEXTS):
        context = grid.context_tokens[index]
        _grid_and_fit(figure, grid.batch_sizes, times_ms[:, index],
                      _predict_ms(grid.fit, grid.batch_sizes, 1, context), f"context {context}")
    figure.update_xaxes(type="log")  # batch sizes are powers of two and a few in between
    return _layout(figure, "Draft step (one token per request) vs batch (markers: grid, dashed: fit)",
                   "batch size", "time (ms)")


def _verify_figure(profile: Profile) -> go.Figure:
    grid = profile.latency.verify
    times_ms = np.asarray(grid.time_s) * 1e3
    context_index = _nearest(grid.context_tokens, (VERIFY_CONTEXT,))[0]
    context = grid.context_tokens[context_index]
    figure = go.Figure()
    for token_index, tokens in enumerate(grid.tokens_per_request):
        fitted = _predict_ms(grid.fit, grid.batch_sizes, tokens, context)
        _grid_and_fit(figure, grid.batch_sizes, times_ms[:, token_index, context_index], fitted,
                      f"k={tokens - 1} ({tokens} tokens/request)")
    figure.update_xaxes(type="log")
    return _layout(figure, f"Verify pass vs batch, context {context} (markers: grid, dashed: fit)",
                   "batch size", "time (ms)")


def _prefill_figure(profile: Profile) -> go.Figure:
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Prefill, target", "Prefill, draft"))
    for column, grid in enumerate((profile.latency.prefill_target, profile.latency.prefill_draft), start=1):
        _prefill_traces(figure, grid, column)
    figure.update_xaxes(type="log", title_text="prompt tokens")
    figure.update_yaxes(type="log", title_text="time (ms)")
    title = "Prefill vs prompt length, one line per batch size (markers: grid, dashed: fit)"
    figure.update_layout(title=title, height=450)
    return figure


def _prefill_traces(figure: go.Figure, grid: PrefillGrid, column: int) -> None:
    times_ms = np.asarray(grid.time_s) * 1e3
    prompts = np.asarray(grid.prompt_tokens)
    for index, batch in enumerate(grid.batch_sizes):
        colour = _colour(index)
        figure.add_trace(go.Scatter(x=prompts, y=times_ms[index], mode="markers", name=f"batch {batch}",
                                    marker={"color": colour}, legendgroup=f"b{batch}",
                                    showlegend=column == 1), row=1, col=column)
        fitted = _predict_ms(grid.fit, batch, prompts, prompts)
        figure.add_trace(go.Scatter(x=prompts, y=fitted, mode="lines", line={"dash": "dash", "color": colour},
                                    name=f"fit, batch {batch}", legendgroup=f"b{batch}", showlegend=False),
                         row=1, col=column)


def _predict_ms(fit: LatencyFit, batch: object, tokens_per_request: object, context: object) -> np.ndarray:
    # the fit's design matrix wants arrays of one shape
    query = (batch, tokens_per_request, context)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in query))
    return predict(fit, *arrays) * 1e3


def _grid_and_fit(figure: go.Figure, x: list[int], grid_ms: np.ndarray, fit_ms: np.ndarray,
                  label: str) -> None:
    colour = _colour(len(figure.data) // 2)
    figure.add_trace(go.Scatter(x=x, y=grid_ms, mode="markers+lines", name=label, legendgroup=label,
                                marker={"color": colour}, line={"color": colour, "width": 1}))
    figure.add_trace(go.Scatter(x=x, y=fit_ms, mode="lines", name=f"fit, {label}", legendgroup=label,
                                showlegend=False, line={"dash": "dash", "color": colour}))


def _fused_forward_figure(profile: Profile) -> go.Figure:
    """The target's fused forward over decode rows of one token each, by tokens in the forward:
    flat treads where the engine pads to a captured CUDA-graph size."""
    target = EngineModel(profile.engine).target
    assert target is not None
    tokens = np.arange(1, 601)
    figure = go.Figure()
    for index, context in enumerate((128, 1024, 4096)):
        times_ms = [target.rows_s(int(n), 1.0, float(context)) * 1e3 for n in tokens]
        figure.add_trace(go.Scatter(x=tokens, y=times_ms, mode="lines", name=f"context {context}",
                                    line={"color": _colour(index), "shape": "hv"}))
    return _layout(figure, "Fused target forward by tokens in it (decode rows)", "tokens in the forward",
                   "ms")


def _acceptance_figures(acceptance: Acceptance) -> list[go.Figure]:
    names = list(acceptance.greedy)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    heatmaps = make_subplots(rows=rows, cols=columns, subplot_titles=names)
    for index, name in enumerate(names):
        curve = acceptance.greedy[name]
        edges = np.asarray(curve.confidence_bin_edges)
        centres = 0.5 * (edges[:-1] + edges[1:])
        heatmaps.add_trace(go.Heatmap(z=curve.confidence_hist_by_position, x=centres,
                                      y=list(range(1, len(curve.confidence_hist_by_position) + 1)),
                                      coloraxis="coloraxis"),
                           row=index // columns + 1, col=index % columns + 1)
    heatmaps.update_xaxes(title_text="draft confidence")
    heatmaps.update_yaxes(title_text="position")
    heatmaps.update_layout(title="Confidence histograms per position (share of draft tokens per bin)",
                           coloraxis={"colorscale": "Viridis"}, height=300 * rows)

    accept = go.Figure()
    positions = go.Figure()
    lengths = go.Figure()
    for index, name in enumerate(names):
        curve = acceptance.greedy[name]
        edges = np.asarray(curve.confidence_bin_edges)
        centres = 0.5 * (edges[:-1] + edges[1:])
        colour = _colour(index)
        accept.add_trace(go.Scatter(x=centres, y=curve.accept_given_confidence, mode="lines+markers",
                                    name=name, line={"color": colour}))
        ks = list(range(1, len(curve.position_acceptance) + 1))
        positions.add_trace(go.Scatter(x=ks, y=curve.position_acceptance, mode="lines+markers", name=name,
                                       line={"color": colour}))
        lengths.add_trace(go.Scatter(x=ks, y=curve.mean_accepted_length, mode="lines+markers", name=name,
                                     line={"color": colour}))
    return [
        heatmaps,
        _layout(accept, "P(accept | confidence) per category", "draft confidence", "P(accept)"),
        _layout(positions, "Per-position acceptance: P(accepted prefix >= i)", "position i", "probability"),
        _layout(lengths, "Mean accepted length (tokens per step) vs draft length k", "k", "tokens per step"),
    ]


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=450)
    return figure


def _colour(index: int) -> str:
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")
    return palette[index % len(palette)]
