"""Chinese labels in plots: find a CJK font from the system, fall back cleanly to English.

The README set-up and CI install Debian's ``fonts-wqy-microhei``. Where no CJK font is installed,
:func:`bilingual` returns the English text only, so plots never show missing-glyph boxes.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

#: Fonts tried in order (Debian packages: fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk,
#: fonts-arphic-uming, fonts-droid-fallback).
CJK_FONT_CANDIDATES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
    "Source Han Sans SC", "AR PL UMing CN", "Droid Sans Fallback",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of the first installed CJK font, or ``None``."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in CJK_FONT_CANDIDATES:
        if name in installed:
            return name
    return None


def setup_fonts() -> bool:
    """Put the CJK font (if any) first in matplotlib's sans-serif list; return whether found."""
    name = cjk_font()
    if name is None:
        warnings.warn(
            "no CJK font found: plot labels will be in English only. Install one with "
            "`apt-get install fonts-wqy-microhei` (see README, set-up).",
            stacklevel=2,
        )
        return False
    matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return True


def bilingual(english: str, chinese: str, separator: str = " ") -> str:
    """``"english chinese"`` when a CJK font is installed, else ``"english"``."""
    return f"{english}{separator}{chinese}" if cjk_font() else english


def subplots(rows: int = 1, cols: int = 1, *, figsize: tuple[float, float], squeeze: bool = True,
             **kwargs) -> tuple[Figure, Any]:
    """A new figure and its axes, with the CJK font set up (``matplotlib.figure.Figure``).

    The figure is not registered with pyplot: it needs no interactive backend, keeps no global
    state and is freed when it goes out of scope (``fig.savefig`` renders it with Agg).
    """
    setup_fonts()
    fig = Figure(figsize=figsize)
    axes = fig.subplots(rows, cols, squeeze=squeeze, **kwargs)
    return fig, axes
