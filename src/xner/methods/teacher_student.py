"""The teacher–student replication on the data of the study: CoNLL-2003 English → CoNLL-2002 Spanish and Dutch.

Wu et al. (2020), "Single-/Multi-Source Cross-Lingual NER via Teacher-Student Learning on Unlabeled Data in Target
Language", train on CoNLL-2003 English, distil on the unlabelled train text of the target and test on CoNLL-2002.
Three rows per target, each with the encoder given (e5-small offline; mBERT in the paper):

* ``direct`` — fine-tuned on English, applied to the target (zero-shot);
* ``single-source`` — the ``direct`` model is the teacher of a student trained on the target's unlabelled text;
* ``multi-source`` — English and the *other* CoNLL-2002 language are teachers (weighted by similarity to the
  target, :mod:`xner.methods.distill`), as the paper's multi-source setting uses its other sources.

The languages come from two datasets, named per language (``conll2002,en=conll2003``, see
:func:`xner.data.dataset_for`). Every model is trained by :func:`xner.methods.train_method` and cached. Each row is
strict span F1 on the target test split with a percentile-bootstrap CI; each student is tested against ``direct``
of the same seed on the same sentences (:func:`xner.metrics.paired_bootstrap`). The distillation settings are
passed explicitly (:class:`TeacherStudentConfig`), never taken from library defaults, so the table says what ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xner.data import load_split, tag_names
from xner.figures import PALETTE, plt, save_figure, style
from xner.methods.config import RECIPES, MethodConfig, add_recipe_arguments, recipe_settings
from xner.methods.distill import DistillConfig, DistillError, check_teacher_settings
from xner.methods.train import train_method
from xner.metrics import paired_bootstrap
from xner.robustness.suite import score_row
from xner.utils import cap

#: Published strict F1 (mBERT): direct transfer from Wu & Dredze (2019), the students from Wu et al. (2020).
PUBLISHED: dict[tuple[str, str], float] = {
    ("es", "direct"): 74.96,
    ("nl", "direct"): 77.57,
    ("de", "direct"): 69.56,
    ("es", "single-source"): 76.94,
    ("nl", "single-source"): 80.89,
    ("de", "single-source"): 73.22,
    ("es", "multi-source"): 78.00,
    ("nl", "multi-source"): 81.33,
    ("de", "multi-source"): 75.33,
}

ROWS = ("direct", "single-source", "multi-source")

#: Where each language of the study comes from: English from CoNLL-2003, Spanish and Dutch from CoNLL-2002.
DATASET = "conll2002,en=conll2003"


class TeacherStudentError(ValueError):
    """The replication cannot run with the given languages or settings."""


@dataclass
class TeacherStudentConfig:
    """Every setting of the replication (``None`` caps mean the full split: the published scale)."""

    targets: tuple[str, ...] = ("es", "nl")
    source: str = "en"
    dataset: str = DATASET
    encoder: str = "e5-small"
    seeds: tuple[int, ...] = (0, 1, 2)
    rows: tuple[str, ...] = ROWS
    max_train_samples: int | None = None  # labelled sentences per source (teacher training)
    max_unlabeled: int | None = None  # unlabelled target sentences (student training)
    max_eval_samples: int | None = None  # source dev sentences (early stopping)
    max_test_samples: int | None = None  # target test sentences
    recipe: str = "offline"  # e5-small as the offline study trains it; "scale": configs/scale.yaml (recipe_settings)
    epochs: int | None = None  # None: the recipe's
    learning_rate: float | None = None
    freeze_embeddings: bool | None = None
    freeze_layers: int | None = None
    bf16: bool | None = None
    batch_size: int | None = None
    distill: DistillConfig = field(default_factory=DistillConfig)
    n_resamples: int = 1000
    num_threads: int | None = None  # torch CPU threads of every model (None: all); not part of any model's key
    only: tuple[str, ...] | None = None  # evaluate only these targets (the others still teach multi-source)

    def __post_init__(self) -> None:
        self.targets, self.seeds, self.rows = tuple(self.targets), tuple(self.seeds), tuple(self.rows)
        bad = [r for r in self.rows if r not in ROWS]
        if bad or "direct" not in self.rows:
            raise TeacherStudentError(f"rows {list(self.rows)}: expected 'direct' and any of {ROWS}")
        if self.source in self.targets:
            raise TeacherStudentError(f"the source {self.source!r} is also a target {self.targets}")
        if "multi-source" in self.rows and len(self.targets) < 2:
            raise TeacherStudentError(
                "multi-source uses the other target language as a second teacher: give ≥ 2 targets (e.g. es nl)"
            )
        if not self.seeds:
            raise TeacherStudentError("give at least one seed")
        if self.recipe not in RECIPES:
            raise TeacherStudentError(f"unknown recipe {self.recipe!r}; expected one of {', '.join(RECIPES)}")
        if self.only is not None:
            self.only = tuple(self.only)
            if not set(self.only) <= set(self.targets):
                raise TeacherStudentError(f"only {list(self.only)}: not among the targets {list(self.targets)}")


def method_configs(cfg: TeacherStudentConfig, target: str, seed: int) -> dict[str, MethodConfig]:
    """The :class:`MethodConfig` of each row for ``target`` and ``seed`` (the multi-source teachers: the source and
    every other target)."""
    settings = recipe_settings(
        cfg.encoder,
        cfg.recipe,
        learning_rate=cfg.learning_rate,
        freeze_embeddings=cfg.freeze_embeddings,
        freeze_layers=cfg.freeze_layers,
        bf16=cfg.bf16,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
    )
    base = dict(
        target=target,
        encoder=cfg.encoder,
        max_train_samples=cfg.max_train_samples,
        max_eval_samples=cfg.max_eval_samples,
        max_unlabeled=cfg.max_unlabeled,
        seed=seed,
        num_threads=cfg.num_threads,
        dataset=cfg.dataset,
        distill=cfg.distill,
        **settings,
    )
    others = tuple(t for t in cfg.targets if t != target)
    sources = {"direct": (cfg.source,), "single-source": (cfg.source,), "multi-source": (cfg.source, *others)}
    student = {r: MethodConfig(method="distill", sources=sources[r], **base) for r in cfg.rows}
    # the direct row is the single-source student's teacher (with its own settings, if the distill settings give any)
    return {r: student[r].teacher(cfg.source) if r == "direct" else student[r] for r in cfg.rows}


def evaluate_target(
    cfg: TeacherStudentConfig,
    target: str,
    seed: int,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] = load_split,
    log: Callable[[str], None] = lambda m: None,
) -> list[dict[str, Any]]:
    """Train (or load) every row's model for ``target`` and ``seed`` and score it on the target test split;
    students carry their paired difference from ``direct``."""
    test = cap(loader(target, "test", cfg.dataset), cfg.max_test_samples)
    tokens, gold = [list(t) for t in test["tokens"]], tag_names(test)
    preds: dict[str, list[list[str]]] = {}
    rows = []
    for row, mc in method_configs(cfg, target, seed).items():
        tm = train_method(mc, models_dir, loader=loader, log=log)
        preds[row] = [list(p) for p in tm.spec.predictor(tokens)]
        rec = {
            "target": target,
            "row": row,
            "method": mc.method,
            "teachers": "+".join(mc.used_sources),
            "encoder": cfg.encoder,
            "seed": seed,
            "dataset": cfg.dataset,
            "n_test_sentences": len(test),
            "train_seconds": tm.info.get("train_seconds", tm.seconds),
            "teacher_weights": str(tm.info.get("teacher_weights", "")),
            "model_path": str(tm.path),
            **score_row(gold, preds[row], n_resamples=cfg.n_resamples, confidence=0.95, seed=0),
        }
        if row != "direct":
            d = paired_bootstrap(gold, preds[row], preds["direct"], n_resamples=cfg.n_resamples, seed=seed)
            rec.update(delta_vs_direct=d.delta, delta_low=d.low, delta_high=d.high, delta_p=d.p_value)
        rec["published_f1"] = PUBLISHED.get((target, row), np.nan)
        log(f"{target} {row} seed {seed}: F1 {rec['f1']:.4f} [{rec['f1_low']:.4f}, {rec['f1_high']:.4f}]")
        rows.append(rec)
    return rows


def run_teacher_student(
    cfg: TeacherStudentConfig,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] = load_split,
    log: Callable[[str], None] = lambda m: None,
) -> pd.DataFrame:
    """Every row × target × seed of the replication: one tidy row each (see :func:`evaluate_target`)."""
    rows = []
    for seed in cfg.seeds:
        for target in cfg.only or cfg.targets:
            rows += evaluate_target(cfg, target, seed, models_dir, loader=loader, log=log)
    return pd.DataFrame(rows)


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per target and row: F1 (points) with the mean CI bounds, the paired difference from
    ``direct`` and how many seeds' differences are significant (p < 0.05), beside the published number."""
    out = []
    for (target, row), g in table.groupby(["target", "row"], sort=False):
        rec = {
            "target": target,
            "row": row,
            "seeds": len(g),
            "f1": 100 * g["f1"].mean(),
            "f1_low": 100 * g["f1_low"].mean(),
            "f1_high": 100 * g["f1_high"].mean(),
            "f1_sd": 100 * g["f1"].std(ddof=1) if len(g) > 1 else np.nan,
            "published_f1": g["published_f1"].iloc[0],
        }
        if row != "direct":
            rec.update(
                delta=100 * g["delta_vs_direct"].mean(),
                delta_low=100 * g["delta_low"].mean(),
                delta_high=100 * g["delta_high"].mean(),
                significant_seeds=int((g["delta_p"] < 0.05).sum()),
                published_delta=rec["published_f1"] - PUBLISHED.get((target, "direct"), np.nan),
            )
        out.append(rec)
    return pd.DataFrame(out)


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a markdown table: ours (e5-small) beside the published mBERT numbers."""
    lines = [
        "| target | row | seeds | strict F1 [95 % CI] | Δ vs direct [95 % CI] (seeds with p < 0.05) "
        "| published mBERT F1 (Δ) |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        delta = "—"
        pub = f"{r.published_f1:.2f}" if not np.isnan(r.published_f1) else "—"
        if r.row != "direct":
            delta = f"{r.delta:+.2f} [{r.delta_low:+.2f}, {r.delta_high:+.2f}] ({int(r.significant_seeds)}/{r.seeds})"
            pub += f" ({r.published_delta:+.2f})"
        lines.append(
            f"| {r.target} | {r.row} | {r.seeds} | {r.f1:.2f} [{r.f1_low:.2f}, {r.f1_high:.2f}] | {delta} | {pub} |"
        )
    return "\n".join(lines) + "\n"


def plot_teacher_student(summary: pd.DataFrame) -> Any:
    """Strict F1 per target and row with 95 % CIs (ours), and the published mBERT F1 as open markers."""
    with style():
        targets = list(dict.fromkeys(summary["target"]))
        rows = [r for r in ROWS if r in set(summary["row"])]
        fig, ax = plt.subplots(figsize=(3.4 + 1.6 * len(targets), 3.2))
        width = 0.8 / len(rows)
        for i, row in enumerate(rows):
            s = summary[summary["row"] == row].set_index("target").reindex(targets)
            x = np.arange(len(targets)) + (i - (len(rows) - 1) / 2) * width
            err = [s["f1"] - s["f1_low"], s["f1_high"] - s["f1"]]
            ax.bar(x, s["f1"], width, yerr=err, capsize=3, color=PALETTE[i % len(PALETTE)], label=f"{row} (ours)")
            ax.scatter(x, s["published_f1"], marker="o", facecolors="none", edgecolors="black", zorder=3)
        ax.scatter([], [], marker="o", facecolors="none", edgecolors="black", label="published (mBERT)")
        ax.set_xticks(np.arange(len(targets)), [f"en → {t}" for t in targets])
        ax.set_ylabel("strict span F1 (points)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars, never over them
        fig.tight_layout()
        return fig


def write_outputs(table: pd.DataFrame, results_dir: str | Path, figures_dir: str | Path | None = None) -> list[Path]:
    """Write ``teacher_student.csv`` (every seed), ``teacher_student_summary.{csv,md}`` and the figure."""

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    summary = summary_table(table)
    written = [results_dir / "teacher_student.csv", results_dir / "teacher_student_summary.csv"]
    table.to_csv(written[0], index=False)
    summary.round(4).to_csv(written[1], index=False)
    md = results_dir / "teacher_student_summary.md"
    md.write_text(summary_markdown(summary), encoding="utf-8")
    written.append(md)
    if figures_dir is not None:
        written += save_figure(plot_teacher_student(summary), Path(figures_dir) / "teacher_student")
    return written


def _language_setting(name: str) -> Callable[[str], tuple[str, float]]:
    """An argparse type for ``LANG=VALUE`` items of the teacher setting ``name`` (``nl=2e-4``, ``nl=8``); anything
    else is an argparse error saying what was expected."""

    def parse(text: str) -> tuple[str, float]:
        lang, sep, raw = text.partition("=")
        try:
            value = float(raw)
            check_teacher_settings(lang, {name: value})
        except (ValueError, DistillError) as e:
            raise argparse.ArgumentTypeError(f"{text!r}: expected LANG=VALUE ({e})") from None
        if not sep or not lang:
            raise argparse.ArgumentTypeError(f"{text!r}: expected LANG=VALUE, e.g. nl=2e-4 or nl=8")
        return lang, value

    parse.__name__ = f"LANG={name}"
    return parse


def teacher_settings(
    learning_rates: Sequence[tuple[str, float]] | None, epochs: Sequence[tuple[str, float]] | None
) -> dict[str, dict[str, float]] | None:
    """``--teacher-learning-rate`` and ``--teacher-epochs`` items as :attr:`DistillConfig.teacher_settings` (which
    makes the epochs whole numbers)."""
    out: dict[str, dict[str, float]] = {}
    for name, items in (("learning_rate", learning_rates), ("epochs", epochs)):
        for lang, value in items or ():
            out.setdefault(lang, {})[name] = value
    return out or None


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m xner.methods.teacher_student", description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", nargs="+", default=["es", "nl"])
    ap.add_argument("--only", nargs="+", default=None, help="evaluate only these targets (split a run over jobs)")
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    ap.add_argument("--encoder", default="e5-small")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    for name, what in (
        ("max-train-samples", "labelled sentences per source"),
        ("max-unlabeled", "unlabelled target sentences"),
        ("max-eval-samples", "source dev sentences"),
        ("max-test-samples", "target test sentences"),
        ("epochs", "fine-tuning and distillation epochs"),
    ):
        ap.add_argument(f"--{name}", type=int, default=None, help=f"{what} (default: all / the encoder's own)")
    add_recipe_arguments(ap)
    ap.add_argument("--learning-rate", type=float, default=None, help="default: the recipe's")
    ap.add_argument("--freeze-layers", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--loss", default="mse", choices=("mse", "kl"), help="distillation loss (published: mse)")
    ap.add_argument(
        "--student-learning-rate", type=float, default=None, help="the students' own (default: the recipe's)"
    )
    ap.add_argument(
        "--student-epochs", type=int, default=DistillConfig().epochs, help="the students' epochs (the reference's: 3)"
    )
    for name, what in (("learning_rate", "learning rate (e.g. nl=2e-4)"), ("epochs", "epochs (e.g. nl=8)")):
        ap.add_argument(
            f"--teacher-{name.replace('_', '-')}",
            nargs="+",
            default=None,
            metavar="LANG=VALUE",
            type=_language_setting(name),
            help=f"a teacher's own {what} by source language (default: the recipe's)",
        )
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="no training: join the teacher_student.csv of runs split over jobs (e.g. by --only) and write the outputs",
    )
    ap.add_argument("--models-dir", default="results/models/conll")
    ap.add_argument("--results-dir", default="results/conll/teacher_student")
    ap.add_argument("--figures-dir", default="figures/paper", help="'' writes no figure (a job of a split run)")
    return ap


def merge_tables(folders: Sequence[str | Path]) -> pd.DataFrame:
    """The ``teacher_student.csv`` tables of runs split over jobs, as one; a missing one is an error naming it."""
    paths = [Path(d) / "teacher_student.csv" for d in folders]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no teacher_student table in {', '.join(missing)}: run those jobs first")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m xner.methods.teacher_student [--max-train-samples N …]`` (defaults: full scale)."""
    a = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TeacherStudentConfig(
        targets=tuple(a.targets),
        rows=tuple(a.rows),
        only=a.only,
        encoder=a.encoder,
        seeds=tuple(a.seeds),
        max_train_samples=a.max_train_samples,
        max_unlabeled=a.max_unlabeled,
        max_eval_samples=a.max_eval_samples,
        max_test_samples=a.max_test_samples,
        recipe=a.recipe,
        epochs=a.epochs,
        learning_rate=a.learning_rate,
        batch_size=a.batch_size,
        freeze_layers=a.freeze_layers,
        distill=dataclasses.replace(
            DistillConfig(),
            loss=a.loss,
            learning_rate=a.student_learning_rate,
            epochs=a.student_epochs,
            teacher_settings=teacher_settings(a.teacher_learning_rate, a.teacher_epochs),
        ),
        n_resamples=a.n_resamples,
        num_threads=a.threads,
    )
    table = merge_tables(a.merge) if a.merge else run_teacher_student(cfg, a.models_dir, log=print)
    for path in write_outputs(table, a.results_dir, a.figures_dir or None):
        print(path)
    print(summary_markdown(summary_table(table)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
