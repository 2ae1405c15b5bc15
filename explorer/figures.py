"""Plotly figures of an outcome: each panel with its 90 % band, the plan's limits, and the pinned setting A."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .backend import Outcome
from .outputs import Panel

COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")
PINNED = "#7f7f7f"


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, t, band, scale: float, colour: str, name: str, dash: str = "solid",
          show_band: bool = True) -> None:
    low, mid, high = (np.asarray(b) * scale for b in band)
    if show_band:
        fig.add_trace(go.Scatter(x=t, y=high, mode="lines", line={"width": 0}, hoverinfo="skip",
                                 showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=t, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=_rgba(colour, 0.18), hoverinfo="skip", showlegend=False,
                                 legendgroup=name))
    fig.add_trace(go.Scatter(x=t, y=mid, mode="lines", name=name, legendgroup=name,
                             line={"color": colour, "width": 2, "dash": dash},
                             hovertemplate="%{x}: %{y:.4g}<extra>" + name[:40] + "</extra>"))


def _layout(fig: go.Figure, title: str, axis: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        template="plotly_white", height=300, margin={"l": 55, "r": 10, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.14, "font": {"size": 10}},
        yaxis_title=axis, font={"family": "WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"},
        uirevision="keep")
    fig.update_xaxes(range=[2015, 2035.5], dtick=5)
    return fig


def panel_figure(panel: Panel, outcome: Outcome, pinned: Outcome | None = None) -> go.Figure:
    """The chart of ``panel``: median and 90 % band of each series (B), A dashed grey when pinned."""
    fig = go.Figure()
    t = outcome.time
    shown = [s for s in panel.series if s.variable in outcome.bands]
    for i, series in enumerate(shown):
        noise = " incl. observation noise" if series.variable in outcome.band_includes_noise else ""
        label = series.label + ("" if pinned is None else " — B")
        _band(fig, t, outcome.bands[series.variable], panel.scale, COLOURS[i % len(COLOURS)], label)
        fig.data[-1].meta = {"band": f"90 % band{noise}"}
        if pinned is not None and series.variable in pinned.bands:
            _band(fig, t, pinned.bands[series.variable], panel.scale, PINNED, series.label[:30] + " — A",
                  dash="dash", show_band=False)
    refs = outcome.references
    if panel.reference == "targets":
        years = sorted(refs["targets"])
        fig.add_trace(go.Scatter(x=years, y=[refs["targets"][y] for y in years], mode="markers+text",
                                 marker={"symbol": "star", "size": 13, "color": "#e67e22"},
                                 text=[f"{refs['targets'][y]:g} %" for y in years], textposition="top center",
                                 name="plan targets 69 % / 72 % (规划目标)"))
    elif panel.reference == "land_quota":
        start = refs["land_2020_km2"]
        quota = refs["land_quota_2021_2025_km2"]
        fig.add_trace(go.Scatter(x=[2020, 2025], y=[start, start + quota], mode="lines+markers",
                                 line={"color": "#e67e22", "dash": "dot", "width": 2},
                                 name=f"2020 land + quota {quota:.0f} km² (新增指标)"))
    elif panel.reference == "land_standard":
        low, high = refs["land_standard_m2_per_person"]
        fig.add_hrect(y0=low, y1=high, fillcolor="rgba(230,126,34,0.10)", line_width=0)
        for value in (low, high):
            fig.add_hline(y=value, line={"color": "#e67e22", "dash": "dot", "width": 1})
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line={"color": "#e67e22", "dash": "dot"},
                                 name=f"GB 50137-2011: {low:g}–{high:g} m²"))
    return _layout(fig, f"{panel.title} · {panel.title_zh}", panel.axis)


def variable_figure(name: str, outcome: Outcome, pinned: Outcome | None = None) -> go.Figure:
    """Any ensemble variable: median and 90 % band (parameter uncertainty)."""
    fig = go.Figure()
    if name in outcome.bands:
        _band(fig, outcome.time, outcome.bands[name], 1.0, COLOURS[0], name + ("" if pinned is None else " — B"))
        if pinned is not None and name in pinned.bands:
            _band(fig, pinned.time, pinned.bands[name], 1.0, PINNED, name + " — A", dash="dash", show_band=False)
    return _layout(fig, f"{name}", outcome.units.get(name, ""))


def difference_figure(variable: str, pinned: Outcome, outcome: Outcome, label: str) -> go.Figure:
    """Paired difference B − A of ``variable`` per member (common random numbers): median and 90 % band."""
    diff = outcome.members[variable] - pinned.members[variable]
    band = np.percentile(diff, (5, 50, 95), axis=0)
    fig = go.Figure()
    _band(fig, outcome.time, band, 1.0, "#16a085", f"B − A, {label} (paired members)")
    fig.add_hline(y=0, line={"color": "#555", "width": 1})
    return _layout(fig, f"Paired difference B − A · 差值（B − A）: {label}",
                   f"{outcome.units.get(variable, '')} (percentage points)" if variable.endswith("rate")
                   else outcome.units.get(variable, ""))
