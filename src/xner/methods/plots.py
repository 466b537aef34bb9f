"""The method × perturbation drop heatmap."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xner.figures import SEQUENTIAL_CMAP, style
from xner.methods.config import METHODS, MethodError

if TYPE_CHECKING:
    import matplotlib.figure


def drop_matrix(table: pd.DataFrame, column: str = "variant") -> pd.DataFrame:
    """Mean F1 drop (points) per (target, perturbation) × method, clean rows left out."""
    sub = table[~table["perturbation"].astype(str).str.startswith("clean")]
    sub = sub[sub["applied"].fillna(True).astype(bool)]
    mat = sub.pivot_table(index=["pair_target", "perturbation"], columns=column, values="drop", aggfunc="mean")
    return mat * 100.0


def plot_method_heatmap(
    table: pd.DataFrame, column: str = "variant", title: str | None = None
) -> matplotlib.figure.Figure:
    """Method × perturbation heatmap of the F1 drop (points), one panel per target language."""
    import matplotlib.pyplot as plt

    mat = drop_matrix(table, column)
    targets = list(dict.fromkeys(mat.index.get_level_values(0)))
    if not targets:
        raise MethodError("no perturbed rows to plot")
    methods = [m for m in (*METHODS, *sorted(mat.columns)) if m in mat.columns]
    methods = list(dict.fromkeys(methods))
    finite = mat.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    vmin, vmax = (min(0.0, float(finite.min())), float(finite.max()) or 1.0) if finite.size else (0.0, 1.0)
    with style():
        rows = list(dict.fromkeys(str(i) for t in targets for i in mat.loc[t].index))  # one row order for all panels
        fig, axes = plt.subplots(
            1,
            len(targets),
            figsize=(1.6 + 0.75 * len(methods) * len(targets) + 1.2, 1.0 + 0.33 * len(rows)),
            squeeze=False,
            sharey=True,
        )
        im = None
        for k, (ax, t) in enumerate(zip(axes[0], targets, strict=True)):
            sub = mat.loc[t].reindex(index=rows, columns=methods)
            data = sub.to_numpy(dtype=float)
            im = ax.imshow(np.ma.masked_invalid(data), cmap=SEQUENTIAL_CMAP, vmin=vmin, vmax=vmax, aspect="auto")
            ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right")
            ax.set_yticks(range(len(rows)), rows)
            ax.tick_params(axis="y", labelleft=k == 0)
            for i in range(data.shape[0]):
                for j in range(data.shape[1]):
                    v = data[i, j]
                    ax.text(
                        j,
                        i,
                        "n/a" if not np.isfinite(v) else f"{v:.1f}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if np.isfinite(v) and v < vmin + 0.6 * (vmax - vmin) else "black",
                    )
            src = table.loc[table["pair_target"] == t, "pair_source"]
            ax.set_title(f"{src.iloc[0] if len(src) else '?'} → {t}")
            ax.spines[:].set_visible(False)
        fig.colorbar(im, ax=list(axes[0]), label="F1 drop (points)", shrink=0.8)
        if title:
            fig.suptitle(title)
    return fig
