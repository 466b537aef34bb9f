"""Notebook 04 runs headlessly end to end (tiny data written by the test, tiny settings)."""

from __future__ import annotations

import pandas as pd
import pytest

from xner.modeling.transfer import SCHEMA
from xner.signature import read_signature


@pytest.mark.slow
def test_notebook_04_runs_headless(fixture_data_dir, tmp_path, monkeypatch):
    from xner.runs import declared_parameters, run_stage

    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    declared = declared_parameters("04")
    for name in (
        "pair",
        "model",
        "setting",
        "sizes",
        "epochs",
        "max_train_samples",
        "max_eval_samples",
        "dataset",
        "data_dir",
        "results_dir",
        "figures_dir",
    ):
        assert name in declared, name
    params = {
        "model": "mini-tiny",
        "setting": ["native", "zero-shot"],
        "epochs": 1,
        "mini_pretrain_epochs": 1,
        "crf_iterations": 5,
        "n_resamples": 20,
        "num_threads": 1,
        "learning_rate": 1e-3,
        "freeze_layers": 0,  # the mini encoder has 2 layers; the e5 default freezes 6 of 12
        "bf16": False,
        "model_cache": str(tmp_path / "cache"),
        "results_dir": str(tmp_path / "res"),
        "figures_dir": str(tmp_path / "fig"),
    }
    out = run_stage("04", pair="id-ms", parameters=params, results_root=tmp_path / "runs", html=False, progress=False)
    assert out.is_file()
    from conftest import png_outputs

    assert png_outputs(out) == 2  # learning curves and F1 by model, shown in the executed notebook
    table = pd.read_csv(tmp_path / "res" / "training.csv")
    assert list(table.columns[: len(SCHEMA)]) == SCHEMA
    assert set(table.model) == {"crf", "mini-tiny"} and set(table.setting) == {"native", "zero-shot"}
    assert read_signature(tmp_path / "res" / "training.csv")["stage"] == "04_training"
    for stem in ("learning_curves", "f1_by_model"):
        assert (tmp_path / "fig" / f"{stem}.png").is_file() and (tmp_path / "fig" / f"{stem}.pdf").is_file()
    assert (tmp_path / "res" / "models" / "zero-shot-id-ms-mini-tiny-s0" / "model" / "config.json").is_file()
