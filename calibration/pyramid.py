"""Population pyramids by residence (issue 10): 5-year groups, males left, females right, each bar
stacked by residence (rural; urban non-hukou; urban hukou). Labels in English and Chinese.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from base import demography as demo
from base.fonts import bilingual, subplots

RESIDENCE_LABELS = (("rural", "乡村"), ("urban, no local hukou", "城镇非户籍"), ("urban hukou", "城镇户籍"))
COLOURS = ("#8c6d31", "#6baed6", "#2171b5")


def five_year_groups(counts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Cells (0..89, 90+) x sex x residence summed into 5-year groups 0-4 ... 85-89 and 90+."""
    closed = counts[:90].reshape(18, 5, *counts.shape[1:]).sum(axis=1)
    grouped = np.concatenate((closed, counts[90:91]), axis=0)
    labels = [f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"]
    return grouped, labels


def pyramid_figure(panels: dict[str, np.ndarray]) -> Figure:
    """One pyramid per panel (title -> counts shaped ``(N_AGE, 2, 3)`` [persons]), in 10k persons."""
    fig, axes = subplots(1, len(panels), figsize=(5.0 * len(panels), 6.0), squeeze=False, sharey=True)
    for ax, (title, counts) in zip(axes[0], panels.items()):
        if counts.shape != (demo.N_AGE, 2, 3):
            raise ValueError(f"pyramid '{title}': counts shaped {counts.shape}, expected {(demo.N_AGE, 2, 3)}")
        grouped, labels = five_year_groups(counts / 1e4)
        y = np.arange(len(labels))
        for sex, sign in ((0, -1.0), (1, 1.0)):
            left = np.zeros(len(labels))
            for k, ((english, chinese), colour) in enumerate(zip(RESIDENCE_LABELS, COLOURS)):
                width = sign * grouped[:, sex, k]
                ax.barh(y, width, left=left, color=colour, height=0.9,
                        label=bilingual(english, chinese) if sex == 0 else None)
                left = left + width
        limit = np.abs(grouped.sum(axis=2)).max() * 1.1
        ax.set_xlim(-limit, limit)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_yticks(y, labels)
        ax.set_title(title)
        ax.set_xlabel(bilingual("males | females, 10k persons", "男 | 女，万人"))
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
