"""Figure style, deterministic saving and showing: a colour-blind-safe palette, PDF and PNG.

Every figure of the compendium is one function (in this module or in its stage's module) that takes tables and
returns a ``matplotlib.figure.Figure``; :func:`save_figure` writes it with fixed metadata so that the same
tables give byte-identical files, and :func:`show` puts the saved PNG into the notebook as an ``image/png``
output (in JupyterLab and in the executed copies and HTML of headless runs alike).

Importing this module does not choose a matplotlib backend: the Jupyter kernel (inline), ``MPLBACKEND`` or
matplotlib's own default decides, so a user's own ``plt.plot`` in a notebook is shown as usual. Headless runs
set it (``xner run`` gives its kernel the inline backend; the ``xner`` command itself uses Agg).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

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
    """Save ``fig`` as ``<stem>.pdf`` and ``<stem>.png`` with fixed metadata (byte-identical across runs).

    The figure is closed once written, so drawing many figures (a loop, a whole paper) keeps no figure open and
    the notebook's inline backend does not show it a second time; a notebook shows it with
    ``show(save_figure(fig, stem))``, which displays the PNG written here.
    """
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


def show(paths: Iterable[str | Path]) -> None:
    """Display the PNG files among ``paths`` (for example what :func:`save_figure` returned) as notebook outputs.

    Each PNG becomes an ``image/png`` output, so JupyterLab shows it inline and the executed notebook and its HTML
    rendering contain it; the image shown is the file written, byte for byte. Other formats in ``paths`` (the
    PDF twin) are skipped; a list without any PNG, or a PNG that does not exist, is an error.
    """
    from IPython.display import Image, display

    given = [Path(p) for p in paths]
    pngs = [p for p in given if p.suffix.lower() == ".png"]
    if not pngs:
        raise ValueError(f"show(): no .png file among {[str(p) for p in given]}; save the figure with 'png'")
    for png in pngs:
        if not png.is_file():
            raise FileNotFoundError(f"{png}: figure file not found")
        display(Image(filename=str(png)))
