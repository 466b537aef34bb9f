"""Figure style and deterministic saving: matplotlib Agg, a colour-blind-safe palette, PDF and PNG.

Every figure of the compendium is one function (in this module or in its stage's module) that takes tables and
returns a ``matplotlib.figure.Figure``; :func:`save_figure` writes it with fixed metadata so that the same
tables give byte-identical files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
SEQUENTIAL_CMAP = "viridis"  # perceptually uniform and colour-blind-safe
DIVERGING_CMAP = "cividis"

_RC = {
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": SEQUENTIAL_CMAP,
    "pdf.fonttype": 42,
    "svg.hashsalt": "xner",
    "path.simplify": True,
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying the compendium's figure style."""
    with plt.rc_context(_RC):
        yield


def save_figure(
    fig: matplotlib.figure.Figure, stem: str | Path, formats: tuple[str, ...] = ("pdf", "png")
) -> list[Path]:
    """Save ``fig`` as ``<stem>.pdf`` and ``<stem>.png`` with fixed metadata (byte-identical across runs)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {
            "pdf": {"Creator": "xner", "Producer": "xner", "CreationDate": None, "ModDate": None},
            "png": {"Software": "xner"},
        }.get(fmt, {})
        tmp = path.with_name(path.name + ".tmp")
        fig.savefig(tmp, format=fmt, metadata=meta, bbox_inches="tight")
        tmp.replace(path)
        out.append(path)
    plt.close(fig)
    return out
