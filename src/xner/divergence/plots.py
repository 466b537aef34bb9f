"""Figures of stage 02: divergence heatmaps over languages and the per-pair measure table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xner.divergence.compare import measure_kind
from xner.figures import SEQUENTIAL_CMAP, style

if TYPE_CHECKING:
    import matplotlib.figure


def figure_stem(measure: str) -> str:
    """A file-name-safe form of a measure name (``span_length[PER].js`` → ``span_length_PER_js``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", measure).strip("_")


def plot_heatmap(mat: pd.DataFrame, measure: str, *, annotate: bool | None = None) -> matplotlib.figure.Figure:
    """Heatmap of one all-pairs matrix (rows: source train, columns: target test), colour-blind-safe."""
    import matplotlib.pyplot as plt

    n_r, n_c = mat.shape
    annotate = (n_r * n_c <= 100) if annotate is None else annotate
    with style():
        fig, ax = plt.subplots(figsize=(1.2 + 0.32 * n_c, 1.0 + 0.3 * n_r))
        vals = mat.to_numpy(dtype=float)
        im = ax.imshow(vals, cmap=SEQUENTIAL_CMAP + ("_r" if measure_kind(measure) == "overlap" else ""), aspect="auto")
        ax.set_xticks(range(n_c), mat.columns, rotation=90)
        ax.set_yticks(range(n_r), mat.index)
        ax.set_xlabel("target (test)")
        ax.set_ylabel("source (train)")
        ax.set_title(measure)
        fig.colorbar(im, ax=ax, shrink=0.8)
        if annotate:
            mid = np.nanmean(vals)
            for i in range(n_r):
                for j in range(n_c):
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if (vals[i, j] < mid) != (measure_kind(measure) == "overlap") else "black",
                    )
    return fig


def plot_pair_table(mat: pd.DataFrame) -> matplotlib.figure.Figure:
    """The per-pair table as a heatmap: colour = value scaled to [0, 1] within each measure, text = the value."""
    import matplotlib.pyplot as plt

    vals = mat.to_numpy(dtype=float)
    lo, hi = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
    scaled = (vals - lo) / np.where(hi > lo, hi - lo, 1.0)
    n_r, n_c = vals.shape
    with style():
        fig, ax = plt.subplots(figsize=(1.5 + 0.55 * n_c, 0.8 + 0.3 * n_r))
        ax.imshow(scaled, cmap=SEQUENTIAL_CMAP, aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(n_c), mat.columns, rotation=60, ha="right")
        ax.set_yticks(range(n_r), mat.index)
        for i in range(n_r):
            for j in range(n_c):
                if np.isfinite(vals[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{vals[i, j]:.3g}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if scaled[i, j] < 0.5 else "black",
                    )
        ax.set_title("per-pair divergences (colour scaled within each measure)")
    return fig
