"""Shared fixtures. Each test file owns its own helpers; only cross-cutting fixtures live here."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never write into the user's cache: a per-session cache directory keeps runs independent.
os.environ.setdefault("IMSIM_CACHE_DIR", str(ROOT / ".pytest_cache" / "imsim-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def spec():
    """The :class:`model.spec.ModelSpec` of the main model."""
    from model.spec import load_spec

    return load_spec()


@pytest.fixture(scope="session")
def pysd_engine():
    """The PySD reference engine for the main model (loaded once per session)."""
    from model.pysd_engine import PySDEngine

    return PySDEngine()
