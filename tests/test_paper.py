"""Stage 06: figures come only from tables, are byte-identical across runs, and missing tables are said plainly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xner import paper
from xner.signature import signature, write_table


def _tables(root: Path) -> None:
    """Small tables in the layout and schema the stages write."""
    rng = np.random.default_rng(0)
    sig = signature(stage="test")
    for pair, (src, tgt) in {"id-ms": ("id", "ms"), "nl-af": ("nl", "af")}.items():
        rows = []
        for model in ("e5-small", "crf"):
            for setting, source in (("native", tgt), ("zero-shot", src)):
                f1 = float(rng.uniform(0.5, 0.9))
                rows.append(
                    {
                        "source": source,
                        "target": tgt,
                        "setting": setting,
                        "model": model,
                        "seed": 0,
                        "eval_lang": tgt,
                        "eval_dataset": "wikiann",
                        "eval_split": "test",
                        "perturbation": "clean",
                        "n_sentences": 100,
                        "precision": f1,
                        "recall": f1,
                        "f1": f1,
                        "f1_low": f1 - 0.05,
                        "f1_high": f1 + 0.05,
                        "lenient_f1": f1,
                    }
                )
        write_table(pd.DataFrame(rows), root / pair / "04_training" / "e5-small-s0" / "training.csv", sig)
        adv = []
        for r in rows:
            for pert in ("clean", "mask", "typos"):
                drop = 0.0 if pert == "clean" else float(rng.uniform(0, 0.2))
                adv.append({**r, "perturbation": pert, "f1": r["f1"] - drop, "drop": drop, "applied": True})
        write_table(pd.DataFrame(adv), root / pair / "05_adversarial" / "e5-small-s0" / "adversarial.csv", sig)
        dial = pd.DataFrame(
            {
                "source": src,
                "target": tgt,
                "target_js": [0.0, 0.1, 0.2],
                "achieved_js": [0.001, 0.099, 0.203],
                "status": "ok",
            }
        )
        write_table(dial, root / pair / "02_divergence" / "dial" / pair / "dial.csv", sig)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.*"))}


def test_figures_are_byte_identical_across_runs(tmp_path):
    _tables(tmp_path / "results")
    first = paper.build_all(tmp_path / "results", tmp_path / "a")
    paper.build_all(tmp_path / "results", tmp_path / "b")
    drawn = {o.name for o in first if o.paths}
    assert drawn == {"native_vs_transfer", "degradation", "dial"}
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(_digest(tmp_path / "a")) == 2 * len(drawn)  # PDF + PNG each


def test_missing_tables_are_named(tmp_path):
    _tables(tmp_path / "results")
    outcomes = {o.name: o for o in paper.build_all(tmp_path / "results", tmp_path / "f")}
    assert not outcomes["projection"].paths and "run stage 03" in outcomes["projection"].skipped
    with pytest.raises(ValueError, match="unknown figures"):
        paper.build_all(tmp_path / "results", tmp_path / "f", only=["nope"])


def test_notebook_06_requires_what_it_is_told(tmp_path):
    from xner.runs import StageFailed, run_stage

    _tables(tmp_path / "results")
    params = {"results_root": str(tmp_path / "results"), "figures_dir": str(tmp_path / "fig")}
    out = run_stage(
        "06", results_root=tmp_path / "runs", parameters={**params, "require": ["dial"]}, progress=False, html=False
    )
    assert (tmp_path / "fig" / "dial.pdf").is_file()
    from conftest import png_outputs

    assert png_outputs(out) == 3  # every figure drawn (native_vs_transfer, degradation, dial) is shown
    with pytest.raises(StageFailed, match="required figures could not be drawn"):
        run_stage(
            "06",
            results_root=tmp_path / "runs",
            parameters={**params, "require": ["projection"]},
            progress=False,
            html=False,
        )
