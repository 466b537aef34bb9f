"""Command line: ``python -m xner.methods --pair id+nl:ms --pair nl+id:af`` runs the whole comparison."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from xner.methods.compare import DEFAULT_PERTURBATIONS, run_comparison, summary_markdown
from xner.methods.config import METHODS

if TYPE_CHECKING:
    pass


def _parse_pair(text: str) -> tuple[str, list[str]]:
    """``"id+nl:ms"`` → (``"ms"``, [``"id"``, ``"nl"``])."""
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"pair {text!r}: expected SOURCES:TARGET, e.g. id+nl:ms")
    src, tgt = text.split(":", 1)
    return tgt, src.split("+")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m xner.methods --pair id+nl:ms --pair nl+id:af``."""
    ap = argparse.ArgumentParser(prog="python -m xner.methods", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--pair",
        action="append",
        type=_parse_pair,
        required=True,
        help="SOURCES:TARGET; the first source is the direct/lora/madx source (repeatable)",
    )
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--encoder", default="e5-small")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-train-samples", type=int, default=2000)
    ap.add_argument(
        "--max-unlabeled",
        type=int,
        default=None,
        help="target text sentences for distill (default: all, as the reference)",
    )
    ap.add_argument("--max-eval-samples", type=int, default=300)
    ap.add_argument("--max-test-samples", type=int, default=300)
    ap.add_argument(
        "--mlm-sentences", type=int, default=None, help="text sentences per MAD-X language adapter (default: all)"
    )
    ap.add_argument("--perturbations", nargs="+", default=list(DEFAULT_PERTURBATIONS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--models-dir", default="results/models/07_methods")
    ap.add_argument("--results-dir", default="results/07_methods")
    ap.add_argument("--figures-dir", default="figures/07_methods")
    ap.add_argument("--learning-rate", type=float, default=1e-4, help="fine-tuning learning rate (LoRA: its own)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--scale",
        nargs="*",
        default=[],
        metavar="ENCODER",
        help="encoder-size axis: encoders of configs/scale.yaml trained with --scale-methods too",
    )
    ap.add_argument("--scale-methods", nargs="+", default=["direct"], choices=METHODS)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all the process may use)")
    a = ap.parse_args(argv)
    if a.threads is not None:
        if a.threads < 1:
            ap.error(f"--threads must be ≥ 1, got {a.threads}")
        torch.set_num_threads(a.threads)
    scale = [{"name": n} for n in a.scale]  # each encoder's own settings come from configs/scale.yaml
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ev, cost = run_comparison(
        a.pair,
        a.methods,
        encoder=a.encoder,
        epochs=a.epochs,
        max_train_samples=a.max_train_samples,
        max_unlabeled=a.max_unlabeled,
        max_eval_samples=a.max_eval_samples,
        max_test_samples=a.max_test_samples,
        perturbations=a.perturbations,
        seeds=a.seeds,
        n_resamples=a.n_resamples,
        mlm_sentences=a.mlm_sentences,
        models_dir=a.models_dir,
        results_dir=a.results_dir,
        figures_dir=a.figures_dir,
        learning_rate=a.learning_rate,
        batch_size=a.batch_size,
        scale=scale,
        scale_methods=a.scale_methods,
        num_threads=a.threads,
    )
    print(cost.to_string())
    md = summary_markdown(ev)
    Path(a.results_dir, "methods_summary.md").write_text(md, encoding="utf-8")
    print(md)
    for n in ev.notes:
        print("note:", n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
