"""Render the figures of the sensitivity archive: the indices of the last year
(``sobol_<year>.png``) and the total indices over time (``sobol_over_time.png``). Labels in
English and Chinese (English only without a CJK font)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from base.fonts import bilingual, subplots

from .compute import SensitivityResult


def _grid(n_panels: int):
    """Columns and rows of a grid of ``n_panels`` panels (two columns when there are several)."""
    cols = 2 if n_panels > 1 else 1
    return cols, int(np.ceil(n_panels / cols))


def _save_grid(fig, axes, used: int, path: Path) -> Path:
    """Hide the unused panels of a grid of axes, then write the figure."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_indices(result: SensitivityResult, year: int, path: Path, top: int = 12) -> Path:
    """Bars of S1 and ST (with confidence intervals) of the top factors, one panel per output.

    Parameters
    ----------
    result : SensitivityResult
    year : int
        Year-end shown [Year].
    path : Path
        PNG file written.
    top : int
        Factors shown per output (by decreasing total index).

    Returns
    -------
    Path
        ``path``.
    """
    outputs = result.settings["outputs"]
    cols, rows = _grid(len(outputs))
    fig, axes = subplots(rows, cols, figsize=(7 * cols, 0.32 * top * rows + 1.5 * rows), squeeze=False)
    for ax, output in zip(axes.flat, outputs):
        si = result.indices[(output, year)]
        en, zh = result.label(output)
        zh = zh or en
        ax.set_title(bilingual(f"{en}, {year}", f"{zh}，{year}年"))
        if not np.any(np.isfinite(si.ST)):
            ax.text(0.5, 0.5, "no variance", ha="center", transform=ax.transAxes)
            continue
        names = si.ranking()[:top][::-1]
        idx = [si.names.index(n) for n in names]
        y = np.arange(len(names))
        ax.barh(y + 0.2, si.ST[idx], height=0.4, xerr=si.ST_conf[idx], color="tab:red", alpha=0.7,
                label=bilingual("total (ST)", "总效应"))
        ax.barh(y - 0.2, si.S1[idx], height=0.4, xerr=si.S1_conf[idx], color="tab:blue", alpha=0.7,
                label=bilingual("first order (S1)", "一阶效应"))
        ax.set_yticks(y, names, fontsize=7)
        ax.set_xlabel(bilingual("Sobol index (share of variance)", "Sobol指数（方差占比）"))
        ax.axvline(0, color="black", lw=0.6)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=7, loc="lower right")
    return _save_grid(fig, axes, len(outputs), path)


def plot_over_time(result: SensitivityResult, path: Path, top: int = 6) -> Path:
    """Total indices over the analysed years for each output's top factors.

    Parameters
    ----------
    result : SensitivityResult
    path : Path
        PNG file written.
    top : int
        Factors shown per output (by their largest total index over the years).

    Returns
    -------
    Path
        ``path``.
    """
    outputs, years = result.settings["outputs"], result.settings["years"]
    cols, rows = _grid(len(outputs))
    fig, axes = subplots(rows, cols, figsize=(7 * cols, 4 * rows), squeeze=False)
    for ax, output in zip(axes.flat, outputs):
        table = np.array([[np.nan_to_num(result.indices[(output, y)].ST[j], nan=0.0)
                           for y in years] for j in range(len(result.factors))])
        names = [f.name for f in result.factors]
        for j in np.argsort(-table.max(axis=1), kind="stable")[:top]:
            conf = np.array([result.indices[(output, y)].ST_conf[j] for y in years])
            ax.errorbar(years, table[j], yerr=np.nan_to_num(conf), marker="o", capsize=3, label=names[j])
        en, zh = result.label(output)
        zh = zh or en
        ax.set_title(bilingual(f"{en}: total Sobol index over time", f"{zh}：总效应指数随时间变化"))
        ax.set_xlabel(bilingual("year (year-end)", "年份（年末）"))
        ax.set_ylabel(bilingual("ST", "总效应"))
        ax.set_xticks(years)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    return _save_grid(fig, axes, len(outputs), path)
