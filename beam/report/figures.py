"""Plotly figures of a run (data from :mod:`beam.report.data`), each returned as an HTML fragment.

The fragments do not carry plotly.js; the page inlines it once (:func:`plotly_js`).
Clicking a point that is a program jumps to that program's code in the page
(``#program-<id>``, see the page script).
"""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from beam.report import data as d

COLORS = {"best": "#1f77b4", "median": "#ff7f0e", "value": "rgba(120,120,120,0.35)", "reference": "#d62728",
          "front": "#2ca02c", "so_far": "#9467bd"}
OPERATION_COLORS = {"initial fill": "#8c564b", "crossover + fill": "#1f77b4", "mutation + fill": "#ff7f0e",
                    "fix": "#d62728", "calibration": "#2ca02c"}
_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_js() -> str:
    """The plotly.js bundle, to inline once in the page."""
    return get_plotlyjs()


def fragment(figure: go.Figure, div_id: str) -> str:
    """A figure as a ``<div>`` plus the script that draws it (no plotly.js)."""
    figure.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)


def _title(metric: str) -> str:
    return f"{metric} ({'lower' if d.lower_is_better(metric) else 'higher'} is better)"


def _grid(metrics: list[str]) -> tuple[go.Figure, list[tuple[int, int]]]:
    cols = 2 if len(metrics) > 1 else 1
    rows = math.ceil(len(metrics) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[_title(m) for m in metrics],
                           vertical_spacing=0.5 / max(rows, 1) if rows > 1 else 0.1, horizontal_spacing=0.08)
    figure.update_layout(height=max(320, 280 * rows))
    return figure, [(i // cols + 1, i % cols + 1) for i in range(len(metrics))]


def _reference_line(figure: go.Figure, xs: list, value: float | None, row: int, col: int, first: bool) -> None:
    if value is None or not xs:
        return
    figure.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[value, value], mode="lines", name="reference solver",
                                legendgroup="reference", showlegend=first,
                                line={"color": COLORS["reference"], "dash": "dash"},
                                hovertemplate=f"reference: {value:.4g}<extra></extra>"), row=row, col=col)


def over_evaluations(run: d.RunData) -> go.Figure:
    """Per metric: every valid evaluation, the best and the median so far, and the reference solver."""
    metrics = d.metric_names(run)
    figure, cells = _grid(metrics)
    for position, (metric, (row, col)) in enumerate(zip(metrics, cells)):
        series, first = d.series_over_evaluations(run, metric), position == 0
        figure.add_trace(go.Scatter(x=series["x"], y=series["value"], mode="markers", name="one evaluation",
                                    legendgroup="value", showlegend=first, customdata=series["program"],
                                    marker={"color": COLORS["value"], "size": 5},
                                    hovertemplate="evaluation %{x}<br>program %{customdata}<br>%{y:.4g}<extra></extra>"),
                         row=row, col=col)
        for key, label in (("best", "best so far"), ("median", "median so far")):
            figure.add_trace(go.Scatter(x=series["x"], y=series[key], mode="lines", name=label, legendgroup=key,
                                        showlegend=first, line={"color": COLORS[key], "shape": "hv"}),
                             row=row, col=col)
        _reference_line(figure, series["x"], d.reference_value(run, metric), row, col, first)
        figure.update_xaxes(title_text="evaluations", row=row, col=col)
        if metric.startswith("ms_") or metric.endswith("_ms"):
            figure.update_yaxes(type="log", row=row, col=col)
    return figure


def over_generations(run: d.RunData) -> go.Figure:
    """Per metric and generation: best and median of the programs evaluated in it, best so far, reference."""
    metrics = d.metric_names(run)
    figure, cells = _grid(metrics)
    for position, (metric, (row, col)) in enumerate(zip(metrics, cells)):
        series, first = d.series_over_generations(run, metric), position == 0
        for key, label, color in (("best", "best of the generation", COLORS["best"]),
                                  ("median", "median of the generation", COLORS["median"]),
                                  ("best_so_far", "best so far", COLORS["so_far"])):
            figure.add_trace(go.Scatter(x=series["x"], y=series[key], mode="lines+markers", name=label,
                                        legendgroup=key, showlegend=first,
                                        line={"color": color, "dash": "dot" if key == "best_so_far" else "solid"}),
                             row=row, col=col)
        _reference_line(figure, series["x"], d.reference_value(run, metric), row, col, first)
        figure.update_xaxes(title_text="generation", dtick=1, row=row, col=col)
    return figure


def balance_speed(run: d.RunData) -> go.Figure | None:
    """Valid programs by speed and balance, the Pareto front, and the reference solver; None without the metrics."""
    points = d.balance_speed_points(run)
    if not points:
        return None
    front = d.pareto_front(points)
    generation = [run.programs[p]["generation"] for _, _, p in points]
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="valid program",
        customdata=[p[2] for p in points], text=[f"generation {g}" for g in generation],
        marker={"color": generation, "colorscale": "Viridis", "size": 8, "opacity": 0.7,
                "colorbar": {"title": {"text": "generation"}}},
        hovertemplate="program %{customdata} (%{text})<br>%{x:.2f} ms/call<br>balance %{y:.4f}<extra></extra>"))
    figure.add_trace(go.Scatter(
        x=[p[0] for p in front], y=[p[1] for p in front], mode="lines+markers", name="Pareto front",
        customdata=[p[2] for p in front], line={"color": COLORS["front"], "shape": "hv", "width": 2},
        marker={"size": 12, "symbol": "diamond-open", "color": COLORS["front"], "line": {"width": 2}},
        hovertemplate="Pareto: program %{customdata}<br>%{x:.2f} ms/call<br>balance %{y:.4f}<extra></extra>"))
    ref_speed, ref_balance = d.reference_value(run, d.SPEED_METRIC), d.reference_value(run, d.BALANCE_METRIC)
    if ref_speed is not None and ref_balance is not None:
        figure.add_trace(go.Scatter(x=[ref_speed], y=[ref_balance], mode="markers", name="reference solver",
                                    marker={"symbol": "star", "size": 16, "color": COLORS["reference"]},
                                    hovertemplate="reference<br>%{x:.2f} ms/call<br>balance %{y:.4f}<extra></extra>"))
    figure.update_layout(height=480, legend={"orientation": "h", "y": -0.18},
                         xaxis_title=f"{d.SPEED_METRIC} (lower is better)",
                         yaxis_title=f"{d.BALANCE_METRIC} (higher is better)")
    return figure


def lineage(graph, best_id: int) -> go.Figure:
    """The lineage DAG at networkx's layered positions; node labels link to the program's code."""
    pos = d.lineage_layout(graph)
    edge_x: list = []
    edge_y: list = []
    for parent, child in graph.edges:
        edge_x += [pos[parent][0], pos[child][0], None]
        edge_y += [pos[parent][1], pos[child][1], None]
    figure = go.Figure(go.Scatter(x=edge_x, y=edge_y, mode="lines", line={"color": "#bbb", "width": 1},
                                  hoverinfo="skip", showlegend=False))
    annotations = [{"x": pos[c][0], "y": pos[c][1], "ax": pos[p][0], "ay": pos[p][1], "xref": "x", "yref": "y",
                    "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1,
                    "arrowwidth": 1, "arrowcolor": "#bbb", "standoff": 9, "text": ""} for p, c in graph.edges]
    for name, color in OPERATION_COLORS.items():
        nodes = [n for n in graph if graph.nodes[n]["operation"] == name]
        if not nodes:
            continue
        figure.add_trace(go.Scatter(
            x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text", name=name,
            customdata=nodes, textposition="top center",
            text=[f'<a href="#program-{n}" target="_self">{n}</a>' for n in nodes],
            hovertext=[_node_hover(graph, n) for n in nodes], hoverinfo="text",
            marker={"color": color, "size": [18 if n == best_id else 11 for n in nodes],
                    "line": {"color": "black", "width": [3 if n == best_id else 0.5 for n in nodes]}}))
    layers = 1 + max((graph.nodes[n]["layer"] for n in graph), default=0)
    figure.update_layout(height=max(360, 40 * max(len(graph) // layers, 1) + 200), annotations=annotations,
                         xaxis={"visible": False}, yaxis={"visible": False},
                         legend={"orientation": "h", "y": -0.05})
    return figure


def _node_hover(graph, node: int) -> str:
    info = graph.nodes[node]
    fitness = "invalid" if info["fitness"] is None else f"fitness {info['fitness']:.4f}"
    return f"program {node}<br>{info['operation']}, generation {info['generation']}<br>{fitness}"


def memory_over_time(run: d.RunData) -> go.Figure | None:
    """Memory events per generation (stacked bars) and the memory's size (line); None without events."""
    timeline = d.memory_timeline(run)
    if not timeline["x"]:
        return None
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for kind, counts in timeline["counts"].items():
        figure.add_trace(go.Bar(x=timeline["x"], y=counts, name=kind), secondary_y=False)
    figure.add_trace(go.Scatter(x=timeline["x"], y=timeline["size"], mode="lines+markers", name="entries after",
                                line={"color": "black", "width": 3}), secondary_y=True)
    figure.update_layout(barmode="stack", height=360, legend={"orientation": "h", "y": -0.2})
    figure.update_xaxes(title_text="generation", dtick=1)
    figure.update_yaxes(title_text="events", secondary_y=False)
    figure.update_yaxes(title_text="entries", range=[0, max(timeline["size"], default=0) + 1], dtick=1,
                        showgrid=False, secondary_y=True)
    return figure


MEMORY_SYMBOLS = {"insert": "circle", "replace": "diamond", "use": "star", "replaced": "x-open", "evict": "x",
                  "prune": "x-thin-open"}


def memory_functions(run: d.RunData) -> go.Figure | None:
    """One row per function that entered the memory: when it entered, was used, replaced, evicted or pruned."""
    events = d.memory_function_events(run)
    if not events:
        return None
    figure = go.Figure()
    for kind, symbol in MEMORY_SYMBOLS.items():
        rows = [e for e in events if e["event"] == kind]
        if rows:
            figure.add_trace(go.Scatter(
                x=[e["generation"] for e in rows], y=[e["name"] for e in rows], mode="markers", name=kind,
                customdata=[e["program_id"] for e in rows], marker={"symbol": symbol, "size": 13},
                hovertemplate="%{y}<br>" + kind + " in generation %{x}<br>program %{customdata}<extra></extra>"))
    names = list(dict.fromkeys(e["name"] for e in events))
    figure.update_layout(height=160 + 28 * len(names), legend={"orientation": "h", "y": -0.25},
                         yaxis={"categoryorder": "array", "categoryarray": names[::-1]})
    figure.update_xaxes(title_text="generation", dtick=1)
    return figure


def errors_by_kind(rows: list[dict]) -> go.Figure | None:
    """Invalid evaluations per error kind; None when every evaluation was valid."""
    if not rows:
        return None
    figure = go.Figure(go.Bar(x=[r["kind"] for r in rows], y=[r["count"] for r in rows],
                              marker={"color": COLORS["reference"]}))
    figure.update_layout(height=300, xaxis_title="error kind", yaxis_title="invalid evaluations")
    return figure


def calls_by_operation(rows: list[dict]) -> go.Figure | None:
    """Model tokens per generator operation (prompt and completion stacked); None without model calls."""
    if not rows:
        return None
    labels = [f"{r['operation']} ({r['model']})" for r in rows]
    figure = go.Figure([go.Bar(x=labels, y=[r["prompt_tokens"] for r in rows], name="prompt tokens"),
                        go.Bar(x=labels, y=[r["completion_tokens"] for r in rows], name="completion tokens")])
    figure.update_layout(barmode="stack", height=320, yaxis_title="tokens")
    return figure
