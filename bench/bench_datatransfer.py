"""Data transfer vs model transfer: the section "Data transfer vs model transfer" of bench/RESULTS.md.

Reads the tables that ``python -m xner.projection.compare`` writes (one CSV per pair, with signature) from
``--tables`` (several folders allowed, e.g. one per model), draws the figure and writes the section with the
per-pair statement of :func:`xner.projection.compare.verdict`. The tables come from the workflow (seeded,
repeatable; ``make datatransfer`` or one pair at a time, see bench/datatransfer_notes.md):

    make datatransfer CORES=1     # results/datatransfer/<pair>.csv for the pairs of configs/datatransfer.yaml
    PYTHONPATH=src .venv/bin/python bench/bench_datatransfer.py --tables results/datatransfer \\
        --notes bench/datatransfer_notes.md --write
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner.figures import save_figure
from xner.projection.compare import comparison_figure, read_tables, summarise, verdict

SECTION = "## Data transfer vs model transfer (translate-test, translate-train)"


def load_tables(folders: list[str]) -> pd.DataFrame:
    """Every ``<pair>.csv`` of the folders, concatenated (the signature column and ``summary.csv`` left out)."""
    return read_tables(folders)


def table(df: pd.DataFrame) -> list[str]:
    """Markdown rows: F1 [CI], Δ vs zero-shot [CI] (p; mean over seeds) and the seeds significant on their own,
    per pair x model x setting x method x aligner."""
    s = summarise(df)
    lines = [
        "| pair | model | setting | method / aligner | seeds | strict F1 [95 % CI] | Δ vs zero-shot [95 % CI] | p "
        "| seeds sig. better / worse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s.itertuples():
        how = f"{r.method} / {r.aligner}" if r.setting != "zero-shot" else "-"
        delta = (
            ""
            if pd.isna(r.delta_vs_zero_shot)
            else f"{r.delta_vs_zero_shot:+.3f} [{r.delta_low:+.3f}, {r.delta_high:+.3f}]"
        )
        p = "" if pd.isna(r.p_value) else f"{r.p_value:.3f}"
        n_sig = "" if pd.isna(r.p_value) else f"{r.n_better} / {r.n_worse}"
        lines.append(
            f"| {r.pair_label} | {r.model} | {r.setting} | {how} | {r.n_seeds} | "
            f"{r.f1:.3f} [{r.f1_low:.3f}, {r.f1_high:.3f}] | {delta} | {p} | {n_sig} |"
        )
    return lines


def main() -> None:
    """Read the tables, draw the figure, print (and with --write, store) the section."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tables", nargs="+", required=True)
    ap.add_argument("--figure", default="figures/paper/datatransfer")
    ap.add_argument("--notes", default="", help="a file whose text is appended to the section")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    df = load_tables(args.tables)
    save_figure(comparison_figure(df), args.figure)
    text = "\n".join(
        [
            SECTION,
            "",
            *table(df),
            "",
            "Per pair and model, the best data transfer against zero-shot model transfer (paired bootstrap over the "
            "same test sentences, 1,000 resamples; Δ and its CI are means over seeds):",
            "",
            *(f"- {line}" for line in verdict(df)),
            "",
            f"Figure: `{args.figure}.pdf`.",
            "",
            Path(args.notes).read_text(encoding="utf-8").strip() if args.notes else "",
        ]
    )
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
