"""An HTML index of a run, for sharing: the executed notebooks, the tables and the figures under one root."""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:340px;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}code{font-size:.9em}"""


def _rel(path: Path, start: Path) -> str:
    return html.escape(Path(os.path.relpath(path, start)).as_posix())


def _preview(csv: Path, rows: int) -> str:
    try:
        df = pd.read_csv(csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return f"<p>(unreadable: {html.escape(str(exc))})</p>"
    df = df.drop(columns=[c for c in ("signature",) if c in df])
    more = f"<p>{len(df) - rows} more rows in the file.</p>" if len(df) > rows else ""
    return df.head(rows).round(4).to_html(index=False, border=0) + more


#: Tables and figures the report leads with when they exist: the study's answers before the folder listing.
LEAD_TABLES = (
    ("Findings: the published directions, tested on our pairs", "all/06_figures/findings.csv"),
    ("Our F1 beside the published numbers", "all/06_figures/published_comparison.csv"),
    ("Seed spread: the models trained with several seeds", "all/06_figures/seed_spread.csv"),
    ("Which divergence predicts the transfer drop", "all/02_divergence/drop_correlations.csv"),
    ("The divergence dial, trained on: F1 against Jensen–Shannon divergence", "all/08_dial_experiment/dial_slopes.csv"),
)
LEAD_FIGURES = ("paper/divergence_vs_drop.png", "paper/dial_f1.png", "paper/native_vs_transfer.png")


def _lead(results_root: Path, figures_root: Path, base: Path, preview_rows: int) -> list[str]:
    """The report's first section: the study's findings and their figures (what exists of them)."""
    parts = []
    for title, rel in LEAD_TABLES:
        csv = results_root / rel
        if csv.is_file():
            parts.append(f"<h3>{html.escape(title)}</h3>{_preview(csv, preview_rows)}")
    for rel in LEAD_FIGURES:
        png = figures_root / rel
        if png.is_file():
            parts.append(f"<figure><img src='{_rel(png, base)}'><figcaption>{html.escape(rel)}</figcaption></figure>")
    return ["<h2>The study's answers</h2>", *parts] if parts else []


def build_report(
    results_root: str | Path, figures_root: str | Path, out: str | Path | None = None, preview_rows: int = 8
) -> Path:
    """Write ``index.html`` linking every executed notebook (HTML), table (with a preview) and figure (PNG).

    Sections follow the folder layout ``<results_root>/<pair>/…``; the file is rewritten atomically. Entries are
    sorted, so the same run gives the same page.
    """
    results_root, figures_root = Path(results_root), Path(figures_root)
    out = Path(out) if out is not None else results_root / "index.html"
    base = out.parent
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>xner run</title><style>{_STYLE}</style>",
        "<h1>xner — run report</h1>",
        f"<p>Results: <code>{html.escape(str(results_root))}</code>; figures: "
        f"<code>{html.escape(str(figures_root))}</code>.</p>",
        *_lead(results_root, figures_root, base, max(preview_rows, 16)),
    ]
    groups = sorted(
        {
            p.relative_to(results_root).parts[0]
            for p in results_root.rglob("*")
            if p.is_file() and len(p.relative_to(results_root).parts) > 1 and not p.is_relative_to(figures_root)
        }
    )
    for group in groups:
        folder = results_root / group
        parts.append(f"<h2>{html.escape(group)}</h2>")
        notebooks = sorted(folder.glob("*.html"))
        if notebooks:
            parts.append(
                "<p>Executed notebooks: "
                + ", ".join(f"<a href='{_rel(nb, base)}'>{html.escape(nb.stem)}</a>" for nb in notebooks)
                + "</p>"
            )
        for csv in sorted(folder.rglob("*.csv")):
            parts.append(f"<h3><a href='{_rel(csv, base)}'>{html.escape(str(csv.relative_to(folder)))}</a></h3>")
            parts.append(_preview(csv, preview_rows))
        figs = sorted((figures_root / group).rglob("*.png")) if (figures_root / group).is_dir() else []
        for png in figs:
            pdf = png.with_suffix(".pdf")
            link = _rel(pdf if pdf.is_file() else png, base)
            caption = html.escape(str(png.relative_to(figures_root / group).with_suffix("")))
            parts.append(
                f"<figure><a href='{link}'><img src='{_rel(png, base)}'></a><figcaption>{caption}</figcaption></figure>"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out
