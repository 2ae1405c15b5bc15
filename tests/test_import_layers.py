"""The import-direction contract: layers import downward only, and at module level.

Layers, top to bottom (also written in ``base/__init__.py`` and the README)::

    sim.py, benchmarks               entry points (the benchmarks measure the explorer too)
    explorer                         the lever explorer (a web entry point over the run API)
    analysis | calibration           independent of each other
    simulator                        the run API
    base                             archive format, paths, fonts, observations, parameter file
    model                            the .mdl, its spec and the engines

A module may import its own package and any package of a lower layer, never a higher one nor a
peer of its own layer. Imports sit at module level; an import inside a function or class is
allowed only with a comment ``# lazy import: <reason>`` on its line (for heavy optional imports).
The checker reads the source with :mod:`ast`, so it sees imports that run only on some paths.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Top to bottom. Packages in one tuple are peers and may not import each other.
LAYERS = (
    ("sim", "benchmarks"),
    ("explorer",),
    ("analysis", "calibration"),
    ("simulator",),
    ("base",),
    ("model",),
)
LAZY_MARKER = "# lazy import:"


def layer_of(package: str) -> int | None:
    for index, packages in enumerate(LAYERS):
        if package in packages:
            return index
    return None


def _imported_packages(node: ast.AST, own_package: str) -> list[str]:
    """Top-level project packages an import statement names (relative imports: own package)."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return [own_package]
        return [(node.module or "").split(".")[0]]
    return []


def check_source(source: str, package: str, where: str) -> list[str]:
    """Violations of the contract in one module of ``package`` (empty: it complies)."""
    problems = []
    own = layer_of(package)
    lines = source.splitlines()
    tree = ast.parse(source)
    nested: set[int] = set()
    for scope in ast.walk(tree):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for node in ast.walk(scope):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    nested.add(id(node))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if id(node) in nested and LAZY_MARKER not in lines[node.lineno - 1]:
            problems.append(f"{where}:{node.lineno}: import inside a function or class "
                            f"(move it to the top, or mark a heavy optional import '{LAZY_MARKER} why')")
        for target in _imported_packages(node, package):
            if target == package:
                continue
            other = layer_of(target)
            if other is None or own is None:
                continue
            if other < own:
                problems.append(f"{where}:{node.lineno}: {package} (layer {own}) imports {target} "
                                f"(layer {other}, higher): layers import downward only")
            elif other == own:
                problems.append(f"{where}:{node.lineno}: {package} imports its peer {target}: "
                                f"packages of one layer are independent")
    return problems


def project_modules(root: Path = REPO_ROOT) -> list[tuple[Path, str]]:
    """Every non-test Python file of the project with its top-level package."""
    found = [(root / "sim.py", "sim")]
    for packages in LAYERS:
        for package in packages:
            directory = root / package
            if directory.is_dir():
                found += [(path, package) for path in sorted(directory.rglob("*.py"))]
    return [(path, package) for path, package in found if path.is_file()]


def check_tree(root: Path = REPO_ROOT) -> list[str]:
    problems = []
    for path, package in project_modules(root):
        problems += check_source(path.read_text(encoding="utf-8"), package, str(path.relative_to(root)))
    return problems


def test_the_project_keeps_the_contract():
    problems = check_tree()
    assert not problems, "\n".join(problems)


def test_every_layer_package_is_checked():
    checked = {package for _, package in project_modules()}
    assert {"sim", "benchmarks", "analysis", "calibration", "simulator", "base", "model"} <= checked


@pytest.mark.parametrize("package, source, expected", [
    ("simulator", "from calibration.pipeline import run_calibration\n", "higher"),
    ("base", "import simulator.run\n", "higher"),
    ("model", "from base.paths import REPO_ROOT\n", "higher"),
    ("calibration", "from analysis.levers import lever_names\n", "peer"),
    ("analysis", "def f():\n    from simulator.run import run_job\n", "inside a function"),
    ("base", "class A:\n    import json\n", "inside a function or class"),
])
def test_the_checker_finds_violations(package, source, expected):
    problems = check_source(source, package, "example.py")
    assert problems and expected in problems[0]


@pytest.mark.parametrize("package, source", [
    ("analysis", "from simulator.run import run_job\nfrom base.paths import REPO_ROOT\nimport model\n"),
    ("simulator", "from .config import resolve_parameters\nimport numpy as np\n"),
    ("base", "def f():\n    import SALib  # lazy import: heavy, optional\n"),
])
def test_the_checker_accepts_downward_and_marked_imports(package, source):
    assert check_source(source, package, "example.py") == []


def test_a_violating_file_in_a_tree_fails(tmp_path):
    """The whole-tree check fails when one file imports upward (a copy of the layout)."""
    (tmp_path / "sim.py").write_text("import simulator\n")
    for package in ("base", "simulator"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "base" / "bad.py").write_text("from simulator import prepare\n")
    problems = check_tree(tmp_path)
    assert len(problems) == 1 and "base/bad.py:1" in problems[0]
