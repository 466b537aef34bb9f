"""Stage 06, the paper figures: every figure rebuilt only from the tables under ``results/``.

:func:`collect` reads the tables the stages wrote (no training, no inference) into one frame per kind, adding
``pair`` and ``variant`` from the paths; the ``fig_*`` functions each draw one figure from those frames, reusing
the stage modules' figure functions where a stage already draws it. :func:`build_all` draws every figure whose
tables exist and says plainly which ones it could not draw and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xner.divergence.dial_experiment import plot_dial_experiment
from xner.divergence.drop import plot_drop_scatter
from xner.figures import PALETTE, plt, save_figure, style
from xner.methods import plot_method_heatmap
from xner.methods.teacher_student import plot_teacher_student
from xner.methods.teacher_student import summary_table as teacher_student_summary
from xner.projection.evaluate import plot_projection_f1
from xner.robustness.crossdomain import plot_crossdomain
from xner.robustness.crossdomain import summary_table as crossdomain_summary
from xner.robustness.suite import plot_degradation_heatmap

# kind → glob under the results root (relative), matching what the stages write
TABLES: dict[str, str] = {
    "evaluation": "*/04_training/**/training.csv",
    "adversarial": "*/05_adversarial/**/adversarial.csv",
    "domain": "*/05_adversarial/**/domain_shift.csv",
    "drop_joined": "*/02_divergence/drop_joined.csv",
    "drop_correlations": "*/02_divergence/drop_correlations.csv",
    "dial": "*/02_divergence/dial/*/dial.csv",
    "dial_summary": "*/08_dial_experiment/dial_summary.csv",
    "dial_slopes": "*/08_dial_experiment/dial_slopes.csv",
    "projection": "*/03_projection/projection_eval.csv",
    "methods": "*/07_methods/**/methods_*_suite.csv",
    "teacher_student": "*/teacher_student/teacher_student.csv",
    "crossdomain": "*/crossdomain/crossdomain.csv",
}


# Columns collect() adds: the pair folder and the variant folder (model × seed) a table was found in.
RUN_PAIR, RUN_VARIANT = "_run_pair", "_run_variant"


def _stage_view(df: pd.DataFrame) -> pd.DataFrame:
    """A table as its stage wrote it (without the columns collect() added)."""
    return df.drop(columns=[RUN_PAIR, RUN_VARIANT], errors="ignore")


class MissingTables(LookupError):
    """A figure's tables are not under the results root (the stage that writes them has not run)."""


def _read(path: Path, root: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    rel = path.relative_to(root).parts
    df[RUN_PAIR] = rel[0]
    df[RUN_VARIANT] = rel[2] if len(rel) > 3 else ""
    return df.drop(columns=[c for c in ("signature",) if c in df])


def collect(root: str | Path) -> dict[str, pd.DataFrame]:
    """Read every known table kind under ``root`` (sorted paths, so the result is deterministic)."""
    root = Path(root)
    out: dict[str, pd.DataFrame] = {}
    for kind, pattern in TABLES.items():
        files = sorted(p for p in root.glob(pattern) if p.is_file())
        if files:
            out[kind] = pd.concat([_read(p, root) for p in files], ignore_index=True)
    return out


def _need(tables: dict[str, pd.DataFrame], kind: str, stage: str) -> pd.DataFrame:
    if kind not in tables or tables[kind].empty:
        raise MissingTables(f"no {kind} tables ({TABLES[kind]}): run stage {stage} first")
    return tables[kind]


def fig_native_vs_transfer(tables: dict[str, pd.DataFrame]):
    """Native vs zero-shot transfer strict F1 on each pair's target test set, per model, with 95% CIs."""
    ev = _need(tables, "evaluation", "04")
    ev = ev[
        (ev["perturbation"] == "clean")
        & (ev["eval_lang"] == ev["target"])
        & ev["setting"].isin(["native", "zero-shot"])
    ]
    if ev.empty:
        raise MissingTables("the evaluation tables hold no clean native/zero-shot rows on a target test set")
    ev = ev.assign(pair=ev[RUN_PAIR])
    g = ev.groupby(["pair", "model", "setting"], sort=True)[["f1", "f1_low", "f1_high"]].mean().reset_index()
    pairs, models = sorted(g["pair"].unique()), sorted(g["model"].unique())
    cells = [(m, s) for m in models for s in ("native", "zero-shot")]
    width = 0.8 / len(cells)
    with style():
        fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(pairs), 2.8))
        for k, (m, s) in enumerate(cells):
            sub = g[(g["model"] == m) & (g["setting"] == s)].set_index("pair").reindex(pairs)
            x = np.arange(len(pairs)) + (k - (len(cells) - 1) / 2) * width
            err = np.vstack([sub["f1"] - sub["f1_low"], sub["f1_high"] - sub["f1"]]) * 100
            ax.bar(
                x,
                sub["f1"] * 100,
                width,
                yerr=err,
                capsize=2,
                label=f"{m} {s}",
                color=PALETTE[(k // 2) % len(PALETTE)],
                alpha=1.0 if s == "native" else 0.55,
                edgecolor=PALETTE[(k // 2) % len(PALETTE)],
            )
        ax.set_xticks(range(len(pairs)), pairs)
        ax.set_ylabel("strict span F1 (target test)")
        ax.set_ylim(0, 100)
        ax.legend(frameon=False, ncols=2, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.25))
    return fig


def fig_degradation(tables: dict[str, pd.DataFrame]):
    """Degradation heatmap: mean F1 drop per perturbation (rows) × pair/setting/model (columns)."""
    adv = _need(tables, "adversarial", "05").copy()
    if "applied" in adv:
        adv = adv[adv["applied"].astype(str).str.lower().isin(["true", "1"])]
    adv["column"] = adv[RUN_PAIR] + " " + adv["setting"] + " (" + adv["model"].astype(str) + ")"
    return plot_degradation_heatmap(
        _stage_view(adv), value="drop", rows="perturbation", cols="column", title="F1 drop (points)"
    )


def fig_divergence_vs_drop(tables: dict[str, pd.DataFrame], n_measures: int = 6):
    """Transfer drop against the best-ranked divergences, with least-squares fits (stage 02's scatter)."""
    joined = _need(tables, "drop_joined", "02 (over all pairs, after 04)")
    corr = _need(tables, "drop_correlations", "02 (over all pairs, after 04)")
    best = list(corr.dropna(subset=["spearman"]).sort_values("rank")["measure"].unique()[:n_measures])
    if not best:
        raise MissingTables("no measure has a defined correlation (too few pairs?)")
    return plot_drop_scatter(_stage_view(joined), best, corr=_stage_view(corr))


def fig_projection(tables: dict[str, pd.DataFrame]):
    """Projection methods on parallel gold: strict span F1 per method and aligner (stage 03's bar chart)."""
    pj = _need(tables, "projection", "03")
    return plot_projection_f1(_stage_view(pj), title="Annotation projection on parallel gold")


def fig_methods(tables: dict[str, pd.DataFrame]):
    """Robustness of the methods: F1 drop per method × perturbation, one panel per target (stage 07's heatmap)."""
    return plot_method_heatmap(
        _stage_view(_need(tables, "methods", "07")), title="F1 drop under perturbation, by method"
    )


def fig_dial(tables: dict[str, pd.DataFrame]):
    """The divergence dial: achieved against requested Jensen–Shannon divergence of the resampled source."""
    d = _need(tables, "dial", "02")
    d = d[d["status"] == "ok"]
    with style():
        fig, ax = plt.subplots(figsize=(3.2, 3.0))
        for i, (pair, grp) in enumerate(sorted(d.groupby(RUN_PAIR))):
            ax.plot(grp["target_js"], grp["achieved_js"], "o-", ms=3, color=PALETTE[i % len(PALETTE)], label=pair)
        lim = float(max(d["target_js"].max(), d["achieved_js"].max()) * 1.05 or 1)
        ax.plot([0, lim], [0, lim], color="grey", lw=0.6, ls=":")
        ax.set_xlabel("requested JS (bits)")
        ax.set_ylabel("achieved JS (bits)")
        ax.legend(frameon=False)
    return fig


def fig_dial_f1(tables: dict[str, pd.DataFrame]):
    """The dial experiment: transfer F1 against the achieved JS divergence of the training set, one line per pair,
    with the slope and its CI (stage 08's figure)."""
    summary = _stage_view(_need(tables, "dial_summary", "08"))
    slopes = _stage_view(_need(tables, "dial_slopes", "08"))
    return plot_dial_experiment(summary, slopes, title="the divergence dial, trained on")


def fig_teacher_student(tables: dict[str, pd.DataFrame]):
    """Teacher–student on CoNLL (en → es/nl): direct, single- and multi-source F1 with CIs beside the published."""
    return plot_teacher_student(
        teacher_student_summary(_stage_view(_need(tables, "teacher_student", "conll (make conll)")))
    )


def fig_crossdomain(tables: dict[str, pd.DataFrame]):
    """Cross-domain scaling: F1 and in → out-of-domain drop per encoder size with CIs."""
    return plot_crossdomain(crossdomain_summary(_stage_view(_need(tables, "crossdomain", "conll (make conll)"))))


FIGURES: dict[str, Callable[[dict[str, pd.DataFrame]], object]] = {
    "native_vs_transfer": fig_native_vs_transfer,
    "degradation": fig_degradation,
    "divergence_vs_drop": fig_divergence_vs_drop,
    "projection": fig_projection,
    "methods": fig_methods,
    "dial": fig_dial,
    "dial_f1": fig_dial_f1,
    "teacher_student": fig_teacher_student,
    "crossdomain": fig_crossdomain,
}


@dataclass(frozen=True)
class FigureOutcome:
    """One figure of :func:`build_all`: the files written, or why it was not drawn."""

    name: str
    paths: tuple[Path, ...]
    skipped: str = ""


def build_all(results_root: str | Path, figures_dir: str | Path, only: list[str] | None = None) -> list[FigureOutcome]:
    """Draw every figure whose tables exist under ``results_root`` into ``figures_dir`` (PDF + PNG)."""
    tables = collect(results_root)
    names = list(FIGURES) if only is None else only
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figures {unknown}; known: {', '.join(FIGURES)}")
    out = []
    for name in names:
        try:
            fig = FIGURES[name](tables)
        except MissingTables as exc:
            out.append(FigureOutcome(name, (), str(exc)))
            continue
        out.append(FigureOutcome(name, tuple(save_figure(fig, Path(figures_dir) / name))))
    return out
