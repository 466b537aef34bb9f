"""The dial experiment: models trained on the dial's resamples (same size, nested levels), cached so a rerun
trains nothing, and the slope of F1 on JS with a paired bootstrap CI that finds a known answer."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest

from xner.data import write_conll
from xner.divergence import DivergenceError
from xner.divergence import dial_experiment as de
from xner.modeling import CRFConfig, TrainConfig

LEVELS = [0.0, 0.05, 0.1, 0.2]


@pytest.fixture
def toy_loader(toy_dataset):
    """``loader(lang, split, dataset)`` over toy data: id is the source, ms the target (other template seeds)."""
    sizes = {"train": 240, "dev": 30, "test": 60}
    seeds = {("id", "train"): 1, ("id", "dev"): 2, ("id", "test"): 3, ("ms", "train"): 4, ("ms", "test"): 5}
    calls = []

    def load(lang, split, dataset="wikiann"):
        calls.append((lang, split))
        return toy_dataset(sizes[split], seed=seeds.get((lang, split), 6), lang=lang)

    load.calls = calls
    return load


def _run(loader, models_dir, **kw):
    cfg = TrainConfig(max_train_samples=150, max_eval_samples=20, max_predict_samples=50)
    return de.run_dial_experiment(
        "id-ms",
        "crf",
        train_config=cfg,
        models_dir=models_dir,
        levels=kw.pop("levels", LEVELS),
        crf_config=kw.pop("crf_config", CRFConfig(max_iterations=15)),
        n_resamples=200,
        loader=loader,
        **kw,
    )


def test_levels_monotone_same_size_and_a_rerun_trains_nothing(toy_loader, tmp_path, monkeypatch):
    res = _run(toy_loader, tmp_path / "models", seeds=[0, 1])
    t = res.table
    dial = t[t["level"] == "dial"]
    assert len(dial) == 2 * len(LEVELS) and (t["level"] == "original").sum() == 2
    assert (t["n_sentences"] == 150).all()  # the capped source set, resampled to its own size at every level
    for _, g in dial.groupby("seed"):
        assert list(g["target_js"]) == LEVELS
        assert np.all(np.abs(g["achieved_js"] - g["target_js"]) <= 0.005)
        assert np.all(np.diff(g["lambda"]) >= 0)  # nested: further along the path for a larger divergence
    assert res.counts.shape == (2, len(LEVELS), 50, 3)  # seeds × levels × target test sentences × counts
    assert (dial.loc[dial["target_js"] == 0, "drop"] == 0).all()
    assert ("ms", "train") in toy_loader.calls  # the target mix comes from target train
    # the CRF's training does not depend on the seed, so the unresampled "original" set of the second seed is the
    # first seed's model (one shared model cache, keyed by data and settings): trained once, then reused
    assert res.stats["trained"] == 2 * len(LEVELS) + 1 and res.stats["cached"] == 1

    def refuse(*a, **k):
        raise AssertionError("a rerun must not train")

    monkeypatch.setattr(de, "train_crf", refuse)
    again = _run(toy_loader, tmp_path / "models", seeds=[0, 1])
    assert again.stats["trained"] == 0 and again.stats["cached"] == 2 * (len(LEVELS) + 1)
    pd.testing.assert_frame_equal(again.table, res.table)
    pd.testing.assert_frame_equal(again.slopes, res.slopes)


def test_a_changed_setting_or_lost_predictions_are_not_reused(toy_loader, tmp_path):
    first = _run(toy_loader, tmp_path / "m", seeds=[0], levels=[0.0, 0.1], include_original=False)
    assert first.stats["trained"] == 2
    other = _run(toy_loader, tmp_path / "m", seeds=[0], levels=[0.0, 0.1], include_original=False,
                 crf_config=CRFConfig(max_iterations=16))  # fmt: skip
    assert other.stats["trained"] == 2  # another CRF setting is another model
    for f in (tmp_path / "m").rglob("predictions-*.json"):
        f.unlink()
    again = _run(toy_loader, tmp_path / "m", seeds=[0], levels=[0.0, 0.1], include_original=False)
    assert again.stats["loaded"] == 2 and again.stats["trained"] == 0  # the saved model predicts again
    pd.testing.assert_frame_equal(again.table, first.table)


def test_choose_levels():
    assert de.choose_levels(0.4743) == [0.0, 0.05, 0.1, 0.2, 0.47]
    assert de.choose_levels(0.12) == [0.0, 0.05, 0.1, 0.12]
    assert de.choose_levels(0.061) == pytest.approx([0.0, 0.02, 0.04, 0.06])  # fewer than 4: evenly spaced
    assert de.choose_levels(0.3, [0, 0.1, "max"]) == [0.0, 0.1, 0.3]
    with pytest.raises(DivergenceError, match="outside what the dial reaches"):
        de.choose_levels(0.3, [0, 0.35])
    with pytest.raises(DivergenceError, match="increasing"):
        de.choose_levels(0.3, [0.1, 0.0])
    with pytest.raises(DivergenceError, match="'max'"):
        de.choose_levels(0.3, [0, "top"])


def _linear_counts(f1s, n=400, rng=None):
    """Per-sentence counts of one seed: one gold and one predicted entity per sentence, the first
    ``f1 · n`` sentences right (nested across levels, so F1 is exactly ``f1``); with ``rng`` the right ones
    are drawn at random per level instead (no pairing)."""
    out = []
    for f in f1s:
        right = np.zeros(n, dtype=bool)
        k = round(f * n)
        right[rng.choice(n, size=k, replace=False) if rng is not None else slice(0, k)] = True
        out.append(np.stack([np.ones(n), np.ones(n), right.astype(float)], axis=1))
    return np.stack(out)


def test_slope_ci_finds_a_known_slope():
    js = np.array([[0.0, 0.1, 0.2, 0.4]])
    counts = _linear_counts(0.8 - 0.5 * js[0])[None]
    summary, slopes = de.pooled_statistics(counts, js, list(js[0]), n_resamples=2000, max_js=[None, 0.2])
    assert summary["f1"].to_numpy() == pytest.approx(0.8 - 0.5 * js[0])
    assert summary["drop"].to_numpy() == pytest.approx(0.5 * js[0])
    allr = slopes.iloc[0]
    assert allr.slope == pytest.approx(-0.5) and allr.slope_low < -0.5 < allr.slope_high
    assert allr.excludes_zero and allr.slope_high < -0.3  # paired: nested right sentences make the CI tight
    assert slopes.iloc[1].n_levels == 3 and slopes.iloc[1].slope == pytest.approx(-0.5)


def test_slope_ci_includes_zero_when_nothing_changes():
    rng = np.random.default_rng(0)
    js = np.array([[0.0, 0.1, 0.2, 0.4]])
    counts = _linear_counts([0.6] * 4, rng=rng)[None]  # the same F1, different sentences right at each level
    _, slopes = de.pooled_statistics(counts, js, list(js[0]), n_resamples=2000)
    r = slopes.iloc[0]
    assert r.slope == pytest.approx(0.0, abs=1e-12) and r.slope_low < 0 < r.slope_high and not r.excludes_zero


def test_slope_ci_includes_seed_variance():
    js = np.array([[0.0, 0.1, 0.2, 0.4]] * 3)
    slopes_true = [-0.2, -0.5, -0.8]
    counts = np.stack([_linear_counts(0.8 + b * js[0]) for b in slopes_true])
    _, one = de.pooled_statistics(counts[1:2], js[1:2], list(js[0]), n_resamples=1000)
    _, three = de.pooled_statistics(counts, js, list(js[0]), n_resamples=1000)
    assert three.iloc[0].slope == pytest.approx(-0.5)
    width = lambda r: r.slope_high - r.slope_low  # noqa: E731
    assert width(three.iloc[0]) > 2 * width(one.iloc[0])  # the seeds disagree: the CI says so
    assert three.iloc[0].slope_low < -0.6 and three.iloc[0].slope_high > -0.4


def test_pooled_statistics_refuses_mismatched_shapes():
    with pytest.raises(DivergenceError, match="shape"):
        de.pooled_statistics(np.zeros((1, 3, 5, 3)), np.zeros((1, 4)), [0, 0.1, 0.2, 0.3])


def _tables():
    rows, slopes = [], []
    for pair, b in (("id-ms", -0.7), ("ar-fa", 0.0)):
        for x in (0.0, 0.05, 0.1, 0.2, 0.47):
            f = 0.6 + b * x
            rows.append(
                {"pair": pair, "model": "crf", "achieved_js": x, "f1": f, "f1_low": f - 0.04, "f1_high": f + 0.04}
            )
        slopes.append(
            {"pair": pair, "model": "crf", "js_range": "all", "slope": b, "slope_low": b - 0.1, "slope_high": b + 0.1}
        )
    return pd.DataFrame(rows), pd.DataFrame(slopes)


def test_figure_is_deterministic_with_one_line_per_pair(tmp_path):
    from xner.figures import save_figure

    summary, slopes = _tables()
    fig = de.plot_dial_experiment(summary, slopes)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == 2 and labels[0].startswith("ar→fa: slope +0.00") and "−" not in labels[0]
    assert "id→ms: slope -0.70 [-0.80, -0.60]" == labels[1]
    a = save_figure(fig, tmp_path / "a" / "dial", formats=("png",))[0].read_bytes()
    b = save_figure(de.plot_dial_experiment(summary, slopes), tmp_path / "b" / "dial", formats=("png",))[0]
    assert a == b.read_bytes()


@pytest.mark.slow
def test_xner_run_08_headless_with_the_crf(toy_dataset, tmp_path):
    data = tmp_path / "data"
    for lang, base in (("id", 10), ("ms", 20)):
        for k, (split, n) in enumerate((("train", 200), ("dev", 30), ("test", 60))):
            write_conll(toy_dataset(n, seed=base + k, lang=lang), data / "wikiann" / lang / f"{split}.tsv")
    results = tmp_path / "results"
    params = ["pairs=[id-ms]", "model=crf", "crf_iterations=10", "max_train_samples=120", "max_eval_samples=20"]
    params += ["max_predict_samples=40", "n_resamples=100", "levels=[0, 0.05, 0.1, max]"]
    cmd = [sys.executable, "-m", "xner.cli", "run", "08", "--results", str(results), "--no-html"]
    cmd += [a for p in params for a in ("-p", p)]
    env = {**__import__("os").environ, "XNER_DATA_DIR": str(data)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = results / "all" / "08_dial_experiment"
    table = pd.read_csv(out / "dial_experiment.csv")
    assert set(table["level"]) == {"dial", "original"} and (table["level"] == "dial").sum() == 4
    assert (out / "dial_slopes.csv").is_file() and (out / "dial_summary.csv.signature.json").is_file()
    assert any((out / "models").glob("crf-*/model"))  # the model cache follows results_dir
    assert (results / "figures" / "all" / "08_dial_experiment" / "dial_experiment.png").is_file()
    nb = nbformat.read(results / "all" / "08_dial_experiment.ipynb", as_version=4)
    shown = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert shown, "the figure is shown inline"
