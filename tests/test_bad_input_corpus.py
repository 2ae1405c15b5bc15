"""A corpus of bad inputs: every command refuses them with a short message, no traceback, no garbage.

Each case is a command line run as a subprocess in its own workspace directory (the current
directory of the process, so Hydra's default ``runs/...`` folders would land there too). The cases
run concurrently (a few at a time) in one module fixture; each parametrised test then checks its
case: the exit status, a message naming the problem, no traceback, and that the workspace holds
exactly what the case put there (no run folder, no ``.partial``, no claim file, no
``runs/calibration/<ts>``). Almost all cases fail during validation, before any computation.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "inner_mongolia_2010_2020.csv"
MDL = ROOT / "model" / "inner_mongolia.mdl"
#: Line of the equation the .mdl cases break (the parser reports it), read from the model so that an
#: edit above it does not need this file changed.
SETTLEMENT_LINE = 1 + MDL.read_text(encoding="utf-8").splitlines().index("base settlement rate=")
DRAWS = ROOT / "scenarios" / "calibrated" / "default_draws.csv"
SIM = [sys.executable, str(ROOT / "sim.py")]
MOD = [sys.executable, "-m"]


@dataclass
class Case:
    id: str
    argv: list[str]                 # "{ws}" is replaced by the workspace directory
    message: str                    # must appear in stderr
    status: int = 2
    files: dict[str, str] = field(default_factory=dict)   # files to create in the workspace
    setup: str | None = None        # name of a setup step (see _setup)


def _scenario(text: str) -> dict[str, str]:
    return {"conf/scenario/bad.yaml": text}


SEARCH = "hydra.searchpath=[file://{ws}/conf]"
RUN = "hydra.run.dir={ws}/run"

CASES = [
    # ---- scenario files: strict schema
    Case("scenario-parms-typo", [*SIM, SEARCH, "scenario=bad", RUN], "unknown key 'scenario.parms' (did you mean 'params'?)",
         files=_scenario("name: bad\nparms:\n  base_settlement_rate: 0.02\n")),
    Case("scenario-no-name", [*SIM, SEARCH, "scenario=bad", RUN], "scenario.name is missing",
         files=_scenario("title: no name\nparams: {}\n")),
    Case("scenario-params-not-mapping", [*SIM, SEARCH, "scenario=bad", RUN], "scenario.params must be a mapping",
         files=_scenario("name: bad\nparams: 3\n")),
    Case("scenario-unknown-parameter", [*SIM, SEARCH, "scenario=bad", RUN], "unknown parameter 'base_setlement_rate'",
         files=_scenario("name: bad\nparams:\n  base_setlement_rate: 0.02\n")),
    Case("scenario-value-out-of-range", [*SIM, SEARCH, "scenario=bad", RUN], "outside its documented range",
         files=_scenario("name: bad\nparams:\n  base_settlement_rate: 5\n")),
    Case("scenario-value-text", [*SIM, SEARCH, "scenario=bad", RUN], "must be a number in",
         files=_scenario("name: bad\nparams:\n  base_settlement_rate: fast\n")),
    Case("scenario-yaml-broken", [*SIM, SEARCH, "scenario=bad", RUN], "bad",
         files=_scenario("name: bad\nparams: [unclosed\n")),
    Case("scenario-missing", [*SIM, "scenario=nope", RUN], "Could not find 'scenario/nope'"),
    Case("scenario-added-key", [*SIM, "+scenario.parms={base_settlement_rate:0.02}", RUN], "unknown key 'scenario.parms'"),
    Case("calibrated-missing", [*SIM, "calibrated=nope", RUN], "Could not find 'calibrated/nope'"),
    Case("engine-missing", [*SIM, "engine=bogus", RUN], "Could not find 'engine/bogus'"),
    Case("top-level-unknown", [*SIM, "parms.x=1", RUN], "Could not override 'parms.x'"),
    Case("top-level-added", [*SIM, "+bogus=1", RUN], "unknown key 'bogus'"),
    Case("run-added-key", [*SIM, "+run.dt=0.5", RUN], "unknown key 'run.dt'"),
    Case("ensemble-added-key", [*SIM, "+ensemble.members=10", RUN], "unknown key 'ensemble.members'"),
    # ---- run settings
    Case("time-step-0.3", [*SIM, "run.time_step=0.3", RUN], "1/time_step must be a whole number"),
    Case("time-step-0", [*SIM, "run.time_step=0", RUN], "run.time_step = 0 must be in (0, 1]"),
    Case("time-step-2", [*SIM, "run.time_step=2", RUN], "run.time_step = 2 must be in (0, 1]"),
    Case("time-step-negative", [*SIM, "run.time_step=-0.25", RUN], "must be in (0, 1]"),
    Case("time-step-text", [*SIM, "run.time_step=abc", RUN], "run.time_step must be a finite number"),
    Case("time-step-nan", [*SIM, "run.time_step=nan", RUN], "run.time_step must be a finite number"),
    Case("final-time-2024", [*SIM, "run.final_time=2024", RUN], "run.final_time = 2024 must be in [2035, 2100]"),
    Case("final-time-fraction", [*SIM, "run.final_time=2035.5", RUN], "must be a whole year"),
    Case("final-time-3000", [*SIM, "run.final_time=3000", RUN], "must be in [2035, 2100]"),
    Case("final-time-text", [*SIM, "run.final_time=soon", RUN], "run.final_time must be a finite number"),
    Case("method-rk5", [*SIM, "run.method=rk5", RUN], "run.method must be 'euler' or 'rk4'"),
    Case("rk4-with-pysd", [*SIM, "engine=pysd", "run.method=rk4", RUN], "run.method=rk4 needs engine=vectorized"),
    Case("samples-1e9", [*SIM, "ensemble.samples=1000000000", RUN], "of memory, more than"),
    Case("samples-negative", [*SIM, "ensemble.samples=-5", RUN], "ensemble.samples must be a whole number >= 0"),
    Case("samples-fraction", [*SIM, "ensemble.samples=1.5", RUN], "ensemble.samples must be a whole number"),
    Case("samples-text", [*SIM, "ensemble.samples=many", RUN], "ensemble.samples must be a whole number"),
    Case("samples-bool", [*SIM, "ensemble.samples=true", RUN], "ensemble.samples must be a whole number"),
    Case("seed-negative", [*SIM, "ensemble.seed=-1", RUN], "ensemble.seed must be a whole number >= 0"),
    Case("seed-text", [*SIM, "ensemble.seed=abc", RUN], "ensemble.seed must be a whole number"),
    Case("plots-no", [*SIM, "plots=no", RUN], "plots must be true or false, got 'no'"),
    Case("plots-number", [*SIM, "plots=1", RUN], "plots must be true or false, got 1"),
    Case("save-members-no", [*SIM, "ensemble.save_members=no", RUN], "ensemble.save_members must be true or false"),
    Case("save-members-text", [*SIM, "ensemble.save_members=sometimes", RUN], "ensemble.save_members must be true or false"),
    # ---- parameters on the command line
    Case("param-unknown", [*SIM, "params.base_migration_rate=0.02", RUN], "unknown parameter 'base_migration_rate'. Did you mean"),
    Case("param-not-a-parameter", [*SIM, "params.urbanization_rate=70", RUN], "not a parameter"),
    Case("param-out-of-range", [*SIM, "params.base_settlement_rate=0.5", RUN], "outside its documented range"),
    Case("param-text", [*SIM, "params.base_settlement_rate=fast", RUN], "got 'fast'"),
    Case("param-nan", [*SIM, "params.base_settlement_rate=nan", RUN], "must be a number in [0, 0.1]"),
    Case("param-inf", [*SIM, "params.base_settlement_rate=inf", RUN], "must be a number in [0, 0.1]"),
    Case("param-sweep-item", [*SIM, "-m", "params.base_settlement_rate=0.01,0.5", "hydra.sweep.dir={ws}/sweep"],
         "outside its documented range"),
    Case("param-empty-name", [*SIM, "params.=1", RUN], "LexerNoViableAltException: params.=1"),
    # ---- calibrated draws
    Case("draws-missing", [*SIM, "calibrated.uncertainty.draws_file={ws}/none.csv", RUN], "does not exist"),
    Case("draws-two-rows", [*SIM, "calibrated.uncertainty.draws_file={ws}/draws.csv", RUN], "holds 2 draws but",
         setup="draws_two_rows"),
    Case("draws-one-value-changed", [*SIM, "calibrated.uncertainty.draws_file={ws}/draws.csv", RUN], "SHA-256 mismatch",
         setup="draws_changed"),
    Case("draws-bad-header", [*SIM, "calibrated.uncertainty.draws_file={ws}/draws.csv", RUN], "line 1: the header",
         files={"draws.csv": "wrong,header\n1,2\n"}),
    Case("draws-empty", [*SIM, "calibrated.uncertainty.draws_file={ws}/draws.csv", RUN], "draws.csv",
         files={"draws.csv": ""}),
    Case("draws-count-wrong", [*SIM, "calibrated.uncertainty.draws_count=7", RUN], "holds 500 draws but the config records 7"),
    Case("draws-hash-wrong", [*SIM, "calibrated.uncertainty.draws_sha256=abc", RUN], "SHA-256 mismatch"),
    Case("noise-negative", [*SIM, "calibrated.uncertainty.observation_noise.urbanization_rate=-1", RUN],
         "observation_noise.urbanization_rate must be >= 0"),
    # ---- the run directory
    Case("run-dir-not-empty", [*SIM, "ensemble.samples=0", RUN], "already exists and is not empty",
         files={"run/outputs.nc": "an earlier run"}),
    Case("run-dir-is-a-file", [*SIM, "ensemble.samples=0", "hydra.run.dir={ws}/afile"], "afile",
         files={"afile": "not a directory"}),
    Case("run-dir-under-a-file", [*SIM, "ensemble.samples=0", "hydra.run.dir={ws}/afile/run"], "Not a directory",
         files={"afile": "not a directory"}),
    Case("run-dir-claimed", [*SIM, "ensemble.samples=0", RUN], "is being written by another run", setup="claim"),
    # ---- the model file
    Case("mdl-syntax", [*MOD, "model.spec", "{ws}/syntax.mdl"], f"line {SETTLEMENT_LINE}: cannot parse the equation of 'base settlement rate'",
         setup="mdl_syntax"),
    Case("mdl-units-field", [*MOD, "model.spec", "{ws}/units.mdl"], f"line {SETTLEMENT_LINE}: cannot parse the equation of 'base settlement rate'",
         setup="mdl_units"),
    Case("mdl-backwards-range", [*MOD, "model.spec", "{ws}/backwards.mdl"], "[0.1, 0] is backwards", setup="mdl_backwards"),
    Case("mdl-missing", [*MOD, "model.spec", "{ws}/none.mdl"], "No such file or directory"),
    Case("mdl-units-syntax", [*MOD, "model.units", "{ws}/syntax.mdl"], f"line {SETTLEMENT_LINE}", setup="mdl_syntax"),
    # ---- calibration
    Case("data-627-percent", [*MOD, "calibration", "data={ws}/data.csv"], "urbanization_rate_pct = 627 % is impossible",
         setup="data_627"),
    Case("data-negative-population", [*MOD, "calibration", "data={ws}/data.csv"], "must be a positive number",
         setup="data_negative"),
    Case("data-missing-year", [*MOD, "calibration", "data={ws}/data.csv"], "has no figure for 2017",
         setup="data_missing_year"),
    Case("data-year-2021", [*MOD, "calibration", "data={ws}/data.csv"], "year 2021 is outside", setup="data_2021"),
    Case("data-text-value", [*MOD, "calibration", "data={ws}/data.csv"], "is not a finite number", setup="data_text"),
    Case("data-unknown-unit", [*MOD, "calibration", "data={ws}/data.csv"], "unknown unit", setup="data_unit"),
    Case("data-duplicate", [*MOD, "calibration", "data={ws}/data.csv"], "duplicate key", setup="data_duplicate"),
    Case("data-missing-file", [*MOD, "calibration", "data={ws}/none.csv"], "does not exist"),
    Case("data-empty-file", [*MOD, "calibration", "data={ws}/data.csv"], "empty", files={"data.csv": ""}),
    Case("calibration-plots-maybe", [*MOD, "calibration", "output.plots=maybe"], "output.plots must be true or false"),
    Case("calibration-write-yes", [*MOD, "calibration", "output.write_parameter_file=yes"],
         "output.write_parameter_file must be true or false"),
    Case("calibration-starts-text", [*MOD, "calibration", "fit.starts=abc"], "fit.starts must be a whole number >= 1"),
    Case("calibration-draws-zero", [*MOD, "calibration", "uncertainty.draws=0"], "uncertainty.draws must be a whole number >= 1"),
    Case("calibration-unknown-key", [*MOD, "calibration", "bogus=1"], "Could not override 'bogus'"),
    Case("calibration-engine-missing", [*MOD, "calibration", "engine=bogus"], "Could not find 'engine/bogus'"),
    # ---- reproduce
    Case("reproduce-missing", [*MOD, "simulator.reproduce", "{ws}/none"], "is not a directory"),
    Case("reproduce-a-file", [*MOD, "simulator.reproduce", "{ws}/afile"], "is not a directory", files={"afile": "x"}),
    Case("reproduce-no-manifest", [*MOD, "simulator.reproduce", "{ws}/arch"], "has no manifest.json",
         files={"arch/outputs.nc": "x"}),
    Case("reproduce-bad-manifest", [*MOD, "simulator.reproduce", "{ws}/arch"], "is malformed",
         files={"arch/manifest.json": "{not json"}),
    Case("reproduce-comparison", [*MOD, "simulator.reproduce", "{ws}/arch"], "is a comparison archive",
         files={"arch/manifest.json": json.dumps({"kind": "comparison", "files": {}, "git": {}})}),
    Case("reproduce-calibration", [*MOD, "simulator.reproduce", "{ws}/arch"], "is a calibration archive",
         files={"arch/manifest.json": json.dumps({"kind": "calibration", "files": {}, "git": {}})}),
    Case("reproduce-rtol-negative", [*MOD, "simulator.reproduce", "{ws}/arch", "--rtol=-1"], "--rtol"),
    Case("reproduce-rtol-text", [*MOD, "simulator.reproduce", "{ws}/arch", "--rtol=tight"], "--rtol"),
    Case("reproduce-rtol-nan", [*MOD, "simulator.reproduce", "{ws}/arch", "--rtol=nan"], "--rtol"),
    Case("reproduce-rtol-one", [*MOD, "simulator.reproduce", "{ws}/arch", "--rtol=1"], "--rtol"),
    Case("reproduce-altered-file", [*MOD, "simulator.reproduce", "{ws}/arch"], "summary.json differs from the manifest",
         setup="archive_altered"),
    Case("reproduce-missing-file", [*MOD, "simulator.reproduce", "{ws}/arch"], "outputs.nc is listed in the manifest but missing",
         setup="archive_missing_file"),
    Case("reproduce-summary-edited", [*MOD, "simulator.reproduce", "{ws}/arch"], "summary.json.targets.2035.probability",
         status=1, setup="archive_summary_edited"),
    # ---- analysis
    Case("compare-missing", [*MOD, "analysis.compare", "{ws}/none", "--out={ws}/out"], "does not exist"),
    Case("compare-empty-dir", [*MOD, "analysis.compare", "{ws}/empty", "--out={ws}/out"], "empty", setup="empty_dir"),
    Case("compare-no-manifest", [*MOD, "analysis.compare", "{ws}/arch", "--out={ws}/out"], "manifest",
         files={"arch/outputs.nc": "x"}),
    Case("sensitivity-n-7", [*MOD, "analysis.sensitivity", "--n", "7", "--out={ws}/out"], "power of two"),
    Case("sensitivity-n-text", [*MOD, "analysis.sensitivity", "--n", "many", "--out={ws}/out"], "--n"),
    Case("sensitivity-group", [*MOD, "analysis.sensitivity", "--n", "8", "--groups", "bogus", "--out={ws}/out"],
         "unknown parameter group"),
    Case("sensitivity-final-time", [*MOD, "analysis.sensitivity", "--n", "8", "run.final_time=2020", "--out={ws}/out"],
         "run.final_time = 2020 must be in [2035, 2100]"),
    Case("sensitivity-ranges-missing", [*MOD, "analysis.sensitivity", "--n", "8", "--ranges", "{ws}/none.yaml",
                                        "--out={ws}/out"], "does not exist"),
    Case("sensitivity-range-backwards", [*MOD, "analysis.sensitivity", "--n", "8", "--ranges", "{ws}/r.yaml",
                                         "--out={ws}/out"], "is backwards or empty",
         files={"r.yaml": "regional_water_cap_2025:\n  range: [2.0e10, 1.9e10]\n  reason: test\n"}),
    Case("sensitivity-ranges-yaml", [*MOD, "analysis.sensitivity", "--n", "8", "--ranges", "{ws}/r.yaml",
                                     "--out={ws}/out"], "not valid YAML", files={"r.yaml": "a: [unclosed\n"}),
    Case("levers-bad-flag", [*MOD, "analysis.levers", "--bogus"], "unrecognized arguments"),
]


# --------------------------------------------------------------------------- set-up steps
def _replace_line(text: str, start: str, new: str) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(start):
            lines[i] = new
            return "".join(lines)
    raise AssertionError(f"no line starting with {start!r}")


def _setup(name: str, ws: Path, archive: Path) -> None:
    data = DATA.read_text(encoding="utf-8")
    if name == "draws_two_rows":
        (ws / "draws.csv").write_text("".join(DRAWS.read_text().splitlines(keepends=True)[:3]))
    elif name == "draws_changed":
        lines = DRAWS.read_text().splitlines(keepends=True)
        fields = lines[5].split(",")
        fields[0] = str(float(fields[0]) * 1.001)
        lines[5] = ",".join(fields)
        (ws / "draws.csv").write_text("".join(lines))
    elif name == "claim":
        pass  # taken by the fixture (a live claim held by the test process)
    elif name.startswith("mdl_"):
        text = MDL.read_text(encoding="utf-8")
        if name == "mdl_syntax":
            text = text.replace("base settlement rate=\n\t0.014", "base settlement rate=\n\t( +* 0.014", 1)
            (ws / "syntax.mdl").write_text(text)
        elif name == "mdl_units":
            text = text.replace("1/Year [0,0.1]\n\t~\tCalibrated (initial estimate): settlement rate",
                                "1/Year [0,abc]\n\t~\tCalibrated (initial estimate): settlement rate", 1)
            (ws / "units.mdl").write_text(text)
        elif name == "mdl_backwards":
            text = text.replace("1/Year [0,0.1]\n\t~\tCalibrated (initial estimate): settlement rate",
                                "1/Year [0.1,0]\n\t~\tCalibrated (initial estimate): settlement rate", 1)
            (ws / "backwards.mdl").write_text(text)
    elif name.startswith("data_"):
        if name == "data_627":
            data = _replace_line(data, "2018,Inner Mongolia,urbanization_rate_pct,",
                                 _row(data, "2018,Inner Mongolia,urbanization_rate_pct,", "627"))
        elif name == "data_negative":
            data = _replace_line(data, "2018,Inner Mongolia,resident_population,",
                                 _row(data, "2018,Inner Mongolia,resident_population,", "-2534"))
        elif name == "data_missing_year":
            data = _replace_line(data, "2017,Inner Mongolia,urbanization_rate_pct,", "")
        elif name == "data_2021":
            data = _replace_line(data, "2010,Inner Mongolia,urbanization_rate_pct,",
                                 _row(data, "2010,Inner Mongolia,urbanization_rate_pct,", None, year="2021"))
        elif name == "data_text":
            data = _replace_line(data, "2018,Inner Mongolia,urbanization_rate_pct,",
                                 _row(data, "2018,Inner Mongolia,urbanization_rate_pct,", "about 63"))
        elif name == "data_unit":
            prefix = "2018,Inner Mongolia,urbanization_rate_pct,"
            row = _row(data, prefix, None).split(",")
            row[4] = "percent"
            data = _replace_line(data, prefix, ",".join(row))
        elif name == "data_duplicate":
            prefix = "2018,Inner Mongolia,urbanization_rate_pct,"
            data = data + _row(data, prefix, None)
        (ws / "data.csv").write_text(data, encoding="utf-8")
    elif name == "empty_dir":
        (ws / "empty").mkdir()
    elif name.startswith("archive_"):
        copy = ws / "arch"
        shutil.copytree(archive, copy)
        if name == "archive_altered":
            with open(copy / "summary.json", "a") as handle:
                handle.write(" ")
        elif name == "archive_missing_file":
            (copy / "outputs.nc").unlink()
        elif name == "archive_summary_edited":
            summary = json.loads((copy / "summary.json").read_text())
            summary["targets"]["2035"]["probability"] = 0.5
            (copy / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
            manifest = json.loads((copy / "manifest.json").read_text())
            manifest["files"]["summary.json"] = hashlib.sha256((copy / "summary.json").read_bytes()).hexdigest()
            (copy / "manifest.json").write_text(json.dumps(manifest, indent=2))
    else:
        raise AssertionError(name)


def _row(data: str, prefix: str, value: str | None, year: str | None = None) -> str:
    line = next(line for line in data.splitlines(keepends=True) if line.startswith(prefix))
    fields = line.split(",")
    if value is not None:
        fields[3] = value
    if year is not None:
        fields[0] = year
    return ",".join(fields)


def _listing(directory: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(directory.rglob("*"))}


@dataclass
class Outcome:
    case: Case
    completed: subprocess.CompletedProcess
    before: dict
    after: dict


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    from simulator.validation import claim_run_dir

    base = tmp_path_factory.mktemp("corpus")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    env.pop("IMSIM_DEBUG", None)
    env.pop("HYDRA_FULL_ERROR", None)
    # one real archive (point run, no plots) for the reproduce cases
    archive = base / "_archive"
    made = subprocess.run([*SIM, "ensemble.samples=20", "plots=false", f"hydra.run.dir={archive}"],
                          cwd=base, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    prepared = []
    for case in CASES:
        ws = base / case.id
        ws.mkdir()
        if "calibration" in case.argv:  # as in a checkout: runs/calibration/ exists; a <ts> folder must not stay
            (ws / "runs" / "calibration").mkdir(parents=True)
        for name, text in case.files.items():
            (ws / name).parent.mkdir(parents=True, exist_ok=True)
            (ws / name).write_text(text, encoding="utf-8")
        if case.setup:
            _setup(case.setup, ws, archive)
        argv = [arg.replace("{ws}", str(ws)) for arg in case.argv]
        prepared.append((case, ws, argv))
    claims = [claim_run_dir(ws / "run") for case, ws, _ in prepared if case.setup == "claim"]
    for claim in claims:
        claim.__enter__()
    befores = {case.id: _listing(ws) for case, ws, _ in prepared}

    def run(item):
        case, ws, argv = item
        return case.id, subprocess.run(argv, cwd=ws, env=env, capture_output=True, text=True, timeout=300)

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = dict(pool.map(run, prepared))
    finally:
        for claim in claims:
            claim.__exit__(None, None, None)
    out = {}
    for case, ws, _ in prepared:
        after = _listing(ws)
        if case.setup == "claim":  # the test process's own claim file is gone now; the listing was taken with it
            befores[case.id] = {k: v for k, v in befores[case.id].items() if not k.endswith(".claim")}
        out[case.id] = Outcome(case, results[case.id], befores[case.id], after)
    return out


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_clearly_and_leaves_nothing(outcomes, case):
    outcome = outcomes[case.id]
    stderr = outcome.completed.stderr
    assert outcome.completed.returncode == case.status, (outcome.completed.returncode, stderr[-2000:])
    assert "Traceback" not in stderr and "Traceback" not in outcome.completed.stdout, stderr[-3000:]
    assert case.message in stderr + outcome.completed.stdout, stderr[-2000:]
    error_lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(error_lines) <= 1, stderr
    assert outcome.after == outcome.before, "the command left files behind or changed the inputs"


def test_corpus_counts(outcomes):
    """cases / clear / garbage, printed for the record (pytest -s shows them)."""
    clear = sum(1 for o in outcomes.values()
                if o.completed.returncode == o.case.status and "Traceback" not in o.completed.stderr
                and o.case.message in o.completed.stderr + o.completed.stdout)
    garbage = sum(1 for o in outcomes.values() if o.after != o.before)
    print(f"bad-input corpus: {len(outcomes)} cases / {clear} clear / {garbage} garbage")
    assert len(outcomes) >= 90 and clear == len(outcomes) and garbage == 0


def test_save_members_false_and_plots_false_are_obeyed(tmp_path):
    """Booleans are honoured, not just type-checked: no ensemble.nc, no plots."""
    target = tmp_path / "run"
    completed = subprocess.run([*SIM, "ensemble.samples=20", "ensemble.save_members=false", "plots=false",
                                f"hydra.run.dir={target}"], cwd=tmp_path, capture_output=True, text=True,
                               timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert completed.returncode == 0, completed.stderr
    names = {p.name for p in target.iterdir()}
    assert "ensemble.nc" not in names and not any(n.endswith(".png") for n in names)
    summary = json.loads((target / "summary.json").read_text())
    assert summary["ensemble"]["members"] == 20, "the summary still comes from the ensemble"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "no claim or staging file left"
    from simulator.reproduce import reproduce

    assert reproduce(target) == []
