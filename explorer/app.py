"""The Dash app: controls generated from the lever registry, one callback that re-runs the ensemble.

State lives in the page (``dcc.Store`` in memory), never on the server: two browser sessions
cannot see each other's settings. The server checks whatever a page sends
(:meth:`explorer.backend.Backend.setting`) before anything runs.

Routes: ``/`` the page; ``POST /api/outcome`` the same numbers as JSON (used by the benchmark
and the tests: ``{"preset": ..., "levers": {...}, "samples": N}``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import flask
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

from .backend import Backend, Outcome, SettingError, probability_flags
from .figures import difference_figure, panel_figure, variable_figure
from .outputs import PANELS, probability_label

ASSETS = Path(__file__).resolve().parent / "assets"


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}" if decimals else f"{value:.0f}"
    return text


def _value_text(control, value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.10g}"


def percent(p: float) -> str:
    """A probability as the page shows it (``"83.4 %"``)."""
    return f"{100 * p:.1f} %"


def _tone(p: float) -> str:
    return "good" if p >= 0.9 else ("fair" if p >= 0.5 else "poor")


def _tiles(outcome: Outcome, pinned: Outcome | None) -> list:
    probs = outcome.probabilities()
    before = pinned.probabilities() if pinned is not None else {}
    tiles = []
    for key, p in probs.items():
        label, label_zh = probability_label(key)
        extra = []
        if key in before:
            delta = 100 * (p - before[key])
            extra.append(html.Div(f"A {percent(before[key])} · B − A {delta:+.1f} pp",
                                  className="tile-diff", **{"data-key": key}))
        tiles.append(html.Div([
            html.Div(label, className="tile-label"), html.Div(label_zh, className="tile-label-zh"),
            html.Div(percent(p), className="tile-value", id={"type": "probability", "key": key},
                     **{"data-key": key}),
            *extra], className=f"tile {_tone(p)}"))
    for year, entry in outcome.summary.get("targets", {}).items():
        band = entry.get("band_90_pct")
        if band:
            tiles.append(html.Div([
                html.Div(f"Urbanization {year}", className="tile-label"),
                html.Div(f"{year}年常住人口城镇化率", className="tile-label-zh"),
                html.Div(f"{entry['point_estimate_pct']:.1f} %", className="tile-value neutral"),
                html.Div(f"90 % band {band[0]:.1f}–{band[1]:.1f} %", className="tile-diff")],
                className="tile neutral"))
    return tiles


def _lever_block(control, value: float) -> html.Div:
    ident = {"name": control.name}
    marks = {control.low: _value_text(control, control.low), control.high: _value_text(control, control.high)}
    return html.Div([
        html.Div([
            html.Span(control.label, className="lever-name"),
            html.Span(" ⓘ", className="info", title=control.tooltip),
            html.Span(f"  [{control.units}]", className="lever-unit"),
        ], className="lever-head", title=control.tooltip),
        html.Div(control.meaning_zh, className="lever-zh"),
        html.Div([
            dcc.Slider(id={"type": "lever-slider", **ident}, min=control.low, max=control.high,
                       step=control.step, value=value, marks=marks, updatemode="mouseup",
                       allow_direct_input=False, className="lever-slider"),
            dcc.Input(id={"type": "lever-text", **ident}, type="text", debounce=True,
                      value=_value_text(control, value), className="lever-text"),
        ], className="lever-row"),
        html.Div(f"range {_value_text(control, control.low)}–{_value_text(control, control.high)} "
                 f"{control.units}; plan {control.plan}", className="lever-note"),
    ], className="lever", **{"data-lever": control.name})


def build_layout(backend: Backend) -> html.Div:
    """The page, generated from the lever registry and the scenario files (read on every load)."""
    presets = backend.presets()
    first = "baseline" if any(p.name == "baseline" for p in presets) else presets[0].name
    values = backend.preset_values(first)
    groups: dict[str, list] = {}
    for control in backend.controls:
        groups.setdefault((control.group, control.group_zh), []).append(_lever_block(control, values[control.name]))
    controls = []
    for (group, group_zh), blocks in groups.items():
        controls.append(html.H3(f"{group} · {group_zh}"))
        controls += blocks
    more_options = []
    return html.Div([
        html.Header([
            html.H1("Inner Mongolia urbanization: lever explorer · 内蒙古新型城镇化政策杠杆探索"),
            html.P("Move a lever: the calibrated ensemble is re-run and every band and probability "
                   "updates. Targets: 69 % (2025) and 72 % (2035), plan ch.2 sec.3. "
                   "移动政策杠杆，即时查看城镇化率、人口、用水和用地的概率结果。"),
        ]),
        html.Div([
            html.Aside([
                html.Label("Scenario preset · 情景", htmlFor="preset"),
                dcc.Dropdown(id="preset", value=first, clearable=False, searchable=False,
                             options=[{"label": f"{p.title} / {p.title_zh}", "value": p.name} for p in presets]),
                html.Label("Ensemble members · 集合成员数", htmlFor="samples"),
                dcc.Input(id="samples", type="text", value=str(backend.default_samples), debounce=True),
                html.Div([
                    html.Button("Pin as A · 固定为A", id="pin", n_clicks=0),
                    html.Button("Unpin · 取消", id="unpin", n_clicks=0),
                ], className="buttons"),
                html.Div(id="pin-status", className="pin-status"),
                *controls,
            ], className="controls"),
            html.Main([
                html.Div(id="error", className="error", role="alert"),
                html.Div(id="tiles", className="tiles"),
                html.Div(id="status", className="status"),
                html.Div([dcc.Graph(id={"type": "panel", "key": panel.key}, config={"displaylogo": False},
                                    className="graph") for panel in PANELS]
                         + [dcc.Graph(id="difference", config={"displaylogo": False}, className="graph")],
                         className="graphs"),
                html.Div([
                    html.Label("More outputs · 其他输出", htmlFor="more-output"),
                    dcc.Dropdown(id="more-output", value="rural_to_urban_migration", clearable=False,
                                 options=more_options),
                    dcc.Graph(id="more-graph", config={"displaylogo": False}),
                ], className="more"),
                html.Div([
                    html.H3("Round trip to the research workflow · 保存与导出"),
                    html.Div([
                        dcc.Input(id="scenario-name", type="text", placeholder="scenario name, e.g. my_push"),
                        dcc.Input(id="scenario-title", type="text", placeholder="title (English)"),
                        dcc.Input(id="scenario-title-zh", type="text", placeholder="标题（中文）"),
                        html.Button("Save as scenario · 保存情景", id="save", n_clicks=0),
                        html.Button("Export run · 导出运行存档", id="export", n_clicks=0),
                    ], className="save-row"),
                    html.Div(id="save-message", className="message"),
                    html.Div(id="export-message", className="message"),
                ], className="roundtrip"),
            ], className="main"),
        ], className="body"),
        dcc.Store(id="setting", storage_type="memory"),
        dcc.Store(id="pinned", storage_type="memory"),
    ], className="page")


def create_app(backend: Backend) -> Dash:
    """The Dash app on ``backend`` (assets served from the installed packages: works offline)."""
    app = Dash(__name__, assets_folder=str(ASSETS), serve_locally=True, update_title=None,
               title="Lever explorer · 政策杠杆探索")
    app.layout = lambda: build_layout(backend)
    names = [control.name for control in backend.controls]
    by_name = {control.name: control for control in backend.controls}

    @app.callback(
        Output({"type": "lever-slider", "name": ALL}, "value"),
        Output({"type": "lever-text", "name": ALL}, "value"),
        Output("setting", "data"), Output("tiles", "children"),
        Output({"type": "panel", "key": ALL}, "figure"), Output("difference", "figure"),
        Output("difference", "style"), Output("more-graph", "figure"), Output("more-output", "options"),
        Output("status", "children"), Output("error", "children"),
        Input("preset", "value"), Input({"type": "lever-slider", "name": ALL}, "value"),
        Input({"type": "lever-text", "name": ALL}, "value"), Input("samples", "value"),
        Input("pinned", "data"), Input("more-output", "value"),
        State({"type": "lever-slider", "name": ALL}, "id"), State("setting", "data"),
    )
    def update(preset, slider_values, text_values, samples, pinned_data, more, slider_ids, previous):
        trigger = ctx.triggered_id
        ids = [i["name"] for i in slider_ids]

        def refused(message: str) -> tuple:
            keep = [no_update] * len(ids)
            return (keep, keep, no_update, no_update, [no_update] * len(PANELS)) + (no_update,) * 5 + (message,)

        if trigger == "preset" or previous is None:
            try:
                values = backend.preset_values(preset)
            except SettingError as error:
                return refused(str(error))
        else:
            values = dict(zip(ids, text_values))
            if isinstance(trigger, dict) and trigger.get("type") == "lever-slider":
                values[trigger["name"]] = slider_values[ids.index(trigger["name"])]
        try:
            setting = backend.setting(preset, values, samples)
            outcome = backend.evaluate(setting)
            pinned = None
            if pinned_data:
                pinned = backend.evaluate(backend.setting_from_json(pinned_data).with_samples(setting.samples))
        except SettingError as error:
            return refused(f"Refused · 已拒绝: {error}")
        full = backend.preset_values(setting.preset)
        full.update(dict(setting.levers))
        if isinstance(trigger, dict) and trigger.get("type") == "lever-slider":
            # the slider already shows its value; echoing it back would rewind a slider the
            # planner is still moving to the value of an earlier, slower update
            sliders = [no_update] * len(ids)
        else:
            sliders = [full[name] for name in ids]
        texts = [_value_text(by_name[name], full[name]) for name in ids]
        figures = [panel_figure(panel, outcome, pinned) for panel in PANELS]
        if pinned is not None:
            difference = difference_figure("urbanization_rate", pinned, outcome, "resident urbanization rate")
            diff_style = {}
        else:
            difference, diff_style = {}, {"display": "none"}
        options = [{"label": f"{name} [{outcome.units.get(name, '')}]", "value": name}
                   for name in sorted(outcome.members)]
        more_figure = variable_figure(more if more in outcome.members else next(iter(outcome.members)),
                                      outcome, pinned)
        status = (f"{setting.samples:,} members · seed {backend.seed} · run {1000 * outcome.elapsed_s:.0f} ms · "
                  f"same numbers as: {setting.command()}")
        return (sliders, texts, setting.to_json(), _tiles(outcome, pinned), figures, difference, diff_style,
                more_figure, options, status, "")

    @app.callback(Output("pinned", "data"), Output("pin-status", "children"),
                  Input("pin", "n_clicks"), Input("unpin", "n_clicks"), State("setting", "data"),
                  prevent_initial_call=True)
    def pin(_pin, _unpin, current):
        if ctx.triggered_id == "unpin" or not current:
            return None, ""
        try:
            setting = backend.setting_from_json(current)
        except SettingError as error:
            return None, f"Refused: {error}"
        return setting.to_json(), f"A = {setting.command()}"

    @app.callback(Output("save-message", "children"), Input("save", "n_clicks"), State("setting", "data"),
                  State("scenario-name", "value"), State("scenario-title", "value"),
                  State("scenario-title-zh", "value"), prevent_initial_call=True)
    def save(_clicks, current, name, title, title_zh):
        try:
            setting = backend.setting_from_json(current)
            path = backend.save_scenario(setting, (name or "").strip(), title or "", title_zh or "")
        except SettingError as error:
            return f"Not saved · 未保存: {error}"
        return backend.save_message(path, setting)

    @app.callback(Output("export-message", "children"), Input("export", "n_clicks"), State("setting", "data"),
                  prevent_initial_call=True)
    def export(_clicks, current):
        try:
            path = backend.export_run(backend.setting_from_json(current))
        except SettingError as error:
            return f"Not exported · 未导出: {error}"
        return f"Run archive written · 已写入: {path}"

    @app.server.route("/api/outcome", methods=["POST"])
    def api_outcome():
        data: Any = flask.request.get_json(silent=True)
        try:
            setting = backend.setting_from_json(data)
            outcome = backend.evaluate(setting)
        except SettingError as error:
            return flask.jsonify({"error": str(error)}), 400
        return flask.jsonify({"setting": setting.to_json(), "command": setting.command(),
                              "probabilities": outcome.probabilities(),
                              "displayed": {k: percent(v) for k, v in outcome.probabilities().items()},
                              "summary": outcome.summary, "elapsed_s": outcome.elapsed_s})

    del names
    return app
