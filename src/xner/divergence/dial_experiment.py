"""The dial experiment: train on the divergence dial's resampled source sets and measure transfer F1 at each level.

The correlational half of the study asks whether the transfer drop *tracks* label-distribution divergence across
pairs; this is the interventional half. For one pair, everything is held fixed — the source sentences available
(the first ``max_train_samples`` of the source train split, the same set the transfer stage trains on), the
training-set size, the model, its training configuration and seed, the dev set (source dev, capped) and the
evaluation set (target test, capped) — and only the entity-type mix of the training set is moved, by resampling
that capped source set with :mod:`xner.divergence.dial` to chosen Jensen–Shannon levels from the target's mix.

* The target mix is the type mix of the **target train** split (a three-number summary of its labels). No target
  test label is used to build any training set; target test labels are used only to score.
* Every level, level 0 included, is a resample with replacement of the same capped source set and has its size
  (entity sentences drawn, sentences without entities kept once each), so duplication is the same at every level.
  Levels are nested (common random numbers): for a seed, the resamples differ only in which draws took a
  sentence from the far corner of the type simplex.
* Seed ``s`` seeds both the dial's draws and the training, so the spread over seeds includes resampling variance
  (for the CRF, which trains deterministically, it is the only source of variance).
* Each model is trained once per (pair, model, seed, level, training data, configuration) and cached under
  ``models_dir``; a rerun loads its cached predictions (or the saved model) and trains nothing.

Statistics: strict span F1 with a percentile-bootstrap CI per (seed, level); the drop F1(level 0) − F1(level)
with a paired bootstrap CI; and per pair the least-squares slope of F1 on the achieved JS, with a percentile CI
from a bootstrap that resamples target test sentences (the same sentences at every level and seed: paired) and,
with several seeds, seeds. A CI that excludes 0 says the type-mix shift alone changes transfer F1.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner import config
from xner.data import load_split, tag_names
from xner.divergence.dial import (
    DEFAULT_TOL,
    Dial,
    DialLevel,
    UnreachableError,
    fit_dial,
    level_dir_name,
    type_mix,
)
from xner.divergence.measures import DivergenceError, js_divergence
from xner.figures import PALETTE, style
from xner.metrics import PairedResult, bootstrap_ci, paired_bootstrap, score, sentence_counts
from xner.modeling import CRFConfig, TrainConfig, load_predictor, train_crf, train_ner
from xner.modeling.cache import cached_training, training_key
from xner.modeling.transfer import build_setting_data, spec_for
from xner.utils import text_digest

if TYPE_CHECKING:
    import matplotlib.figure

DEFAULT_BASE_LEVELS = (0.0, 0.05, 0.1, 0.2)
MIN_LEVELS = 4
# Settings that change how a model is trained or which data it sees (the rest — threads, progress bars, prediction
# batch size, the test cap — cannot change the trained model, so they are left out of the cache key).


@dataclass
class DialExperiment:
    """What one run of the dial experiment produced for a pair and a model.

    ``table``: one row per (seed, level); ``summary``: one row per level, pooled over seeds; ``slopes``: the slope
    of F1 on achieved JS with its CI; ``counts``: per-sentence strict counts on the target test
    (seeds × levels × sentences × [gold, predicted, correct]); ``stats``: how many models were trained/reused.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    slopes: pd.DataFrame
    counts: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def choose_levels(max_reachable: float, levels: Sequence[float | str] | None = None) -> list[float]:
    """The JS levels to train at, given the largest divergence reachable (the smallest over the seeds' dials).

    ``levels=None``: :data:`DEFAULT_BASE_LEVELS` at least 0.01 below the maximum plus the maximum rounded down
    to 0.01 (evenly spaced levels from 0 when that gives fewer than four). Given levels may contain ``"max"``
    for that maximum; a level above the maximum is an error naming it.
    """
    top = math.floor(max_reachable * 100) / 100
    if top <= 0:
        raise DivergenceError(f"the dial reaches at most JS {max_reachable:.4f}: there is no range to train over")
    if levels is None:
        out = [x for x in DEFAULT_BASE_LEVELS if x <= top - 0.01 + 1e-9] + [top]
        if len(out) < MIN_LEVELS:
            out = np.round(np.linspace(0.0, top, MIN_LEVELS), 4).tolist()
        return out
    out = []
    for x in levels:
        if isinstance(x, str):
            if x != "max":
                raise DivergenceError(f"a level is a JS value in [0, 1] or 'max'; got {x!r}")
            out.append(top)
        elif not 0.0 <= float(x) <= max_reachable:
            raise DivergenceError(
                f"level {x} is outside what the dial reaches for this pair ([0, {max_reachable:.4f}]); "
                f"choose levels up to {top} or 'max'"
            )
        else:
            out.append(float(x))
    if sorted(set(out)) != out:
        raise DivergenceError(f"levels must be increasing and distinct; got {out}")
    return out


def _reachable(levels: list[float], dials: list[Dial]) -> list[float]:
    """Check every level against every seed's dial; the top level, when the sample's discreteness leaves no draw
    within ``tol`` of it (small sources), becomes the largest divergence reached (rounded down to 1e-4)."""
    top = math.floor(min(d.max_reachable() for d in dials) * 1e4) / 1e4
    out = []
    for i, js in enumerate(levels):
        try:
            for d in dials:
                d.level(js)
        except UnreachableError:
            if i != len(levels) - 1 or js > top:
                raise
            js = top
            for d in dials:
                d.level(js)  # an error here names the level and the reachable range
        out.append(js)
    return out


def _train_or_reuse(
    name: str,
    train: Any,
    dev: Any,
    test_tokens: list[list[str]],
    *,
    cfg: TrainConfig,
    crf_config: CRFConfig | None,
    encoder: str | None,
    languages: list[str],
    models_dir: Path,
) -> tuple[Path, list[list[str]], str]:
    """The model of one training set from the shared model cache (:mod:`xner.modeling.cache`, trained when missing),
    its predictions on the test sentences (cached beside it), and what was done: ``cached`` / ``loaded`` /
    ``trained``."""
    model = "crf" if crf_config is not None else cfg.model
    shaping = crf_config if crf_config is not None else cfg
    key = training_key(model, encoder, shaping, train, dev)
    trained: list[Any] = []

    def fit(folder: Path) -> tuple[pd.DataFrame | None, float]:
        t0 = time.perf_counter()
        if crf_config is not None:
            predictor, history = train_crf(train, dev, crf_config), None
            predictor.save(folder)
        else:
            ft = dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None, save_checkpoint=True)
            res = train_ner(train, dev, ft, encoder=encoder, languages=languages, output_dir=folder, run_name=name)
            predictor, history = res.model, res.history
        trained.append(predictor)
        return history, time.perf_counter() - t0

    entry = cached_training(models_dir, key, model, fit)
    pred_file = entry.folder.parent / f"predictions-{text_digest(test_tokens)[:16]}.json"
    if pred_file.is_file() and not trained:
        return entry.folder.parent, json.loads(pred_file.read_text(encoding="utf-8")), "cached"
    if trained:
        predictor, action = trained[0], "trained"
    else:
        kwargs = {} if crf_config is not None else {"num_threads": cfg.num_threads}
        predictor, action = load_predictor(entry.folder, **kwargs), "loaded"
    pred = predictor.predict(test_tokens)
    tmp = pred_file.with_name(pred_file.name + ".tmp")
    tmp.write_text(json.dumps(pred), encoding="utf-8")
    tmp.replace(pred_file)
    return entry.folder.parent, pred, action


def _level_row(dial: Dial, lev: Any, gold: list[list[str]], pred: list[list[str]], pred0: list[list[str]], n_res: int):
    """One row of the per-(seed, level) table."""
    s = score(gold, pred, mode="strict")
    ci = bootstrap_ci(gold, pred, n_resamples=n_res, seed=dial.seed, mode="strict")
    if pred is pred0:  # level 0 against itself: no drop, and a bootstrap of a constant has no interval
        drop = PairedResult(0.0, 0.0, 0.0, 1.0, n_res)
    else:
        drop = paired_bootstrap(gold, pred0, pred, n_resamples=n_res, seed=dial.seed)
    row = {
        "target_js": lev.target_js,
        "achieved_js": lev.achieved_js,
        "lambda": lev.lam,
        "corner": dial.corner,
        "n_sentences": len(lev.indices),
        "n_distinct": len(set(lev.indices)),
        "n_entities": sum(lev.type_counts.values()),
        **{f"n_{t}": lev.type_counts.get(t, 0) for t in dial.types},
        "n_test_sentences": len(gold),
        "precision": s.precision,
        "recall": s.recall,
        "f1": s.f1,
        "f1_low": ci.low,
        "f1_high": ci.high,
        "drop": drop.delta,
        "drop_low": drop.low,
        "drop_high": drop.high,
        "drop_p": drop.p_value,
    }
    return row


def _predict_at(train: Any, name: str, cfg: TrainConfig, ctx: dict[str, Any]) -> tuple[Path, list[list[str]], str]:
    """Train (or reuse) the model of one training set; its cache folder, test predictions and what was done."""
    p, model = ctx["pair"], ctx["model"]
    return _train_or_reuse(
        f"dial {p.name} {model} seed {cfg.seed} {name}", train, ctx["dev"], ctx["test_tokens"],
        cfg=cfg, crf_config=(ctx["crf_config"] or CRFConfig()) if model == "crf" else None, encoder=ctx["encoder"],
        languages=[p.source, p.target], models_dir=ctx["models_dir"],
    )  # fmt: skip


def _original_level(dial: Dial, train: Any) -> DialLevel:
    """The unresampled training set described as a dial level (its JS from the target mix, its type counts)."""
    counts = type_mix(train)
    mix = np.array([counts[t] for t in dial.types], dtype=float)
    js = js_divergence(mix, dial.target_mix)
    return DialLevel(math.nan, js, math.nan, math.nan, list(range(len(train))), counts)


def run_dial_experiment(
    pair: str,
    model: str,
    *,
    train_config: TrainConfig,
    models_dir: str | Path,
    seeds: Sequence[int] = (0,),
    levels: Sequence[float | str] | None = None,
    dataset: str = "wikiann",
    crf_config: CRFConfig | None = None,
    encoder: str | None = None,
    tol: float = DEFAULT_TOL,
    n_resamples: int = 1000,
    slope_max_js: Sequence[float | None] = (None,),
    include_original: bool = True,
    loader: Callable[..., Any] = load_split,
) -> DialExperiment:
    """Run the dial experiment for one pair (``"src-tgt"``) and one model (``"crf"`` or an encoder name).

    The caps come from ``train_config`` (``max_train_samples`` source train sentences — the set the dial
    resamples —, ``max_eval_samples`` source dev sentences, ``max_predict_samples`` target test sentences); its
    seed is replaced by each of ``seeds``. ``levels``: see :func:`choose_levels` (the same levels for every seed).
    ``slope_max_js``: JS ranges to fit the slope over (``None``: all levels; e.g. ``0.2``: levels up to 0.2).
    ``encoder``: an already resolved checkpoint for ``model`` (default: resolved by the training code).
    ``include_original``: also train on the capped source set as it is (a row with ``level == "original"``, left
    out of the slopes): does level 0's resampling itself (duplicates, fewer distinct sentences) cost F1?
    """
    p = config.parse_pair(pair)
    if not seeds:
        raise DivergenceError("no seeds given")
    data = build_setting_data(
        spec_for("zero-shot", p.source, p.target, dataset=dataset),
        max_train_samples=train_config.max_train_samples,
        max_eval_samples=train_config.max_eval_samples,
        max_predict_samples=train_config.max_predict_samples,
        loader=loader,
    )
    target_train = loader(p.target, "train", dataset)  # its type mix only; target test labels never build data
    dials = {s: fit_dial(data.train, target_train, seed=s, tol=tol) for s in seeds}
    chosen = _reachable(choose_levels(min(d.max_reachable() for d in dials.values()), levels), list(dials.values()))
    test = data.evals[0].data
    test_tokens, gold = [list(t) for t in test["tokens"]], tag_names(test)
    rows, counts, actions = [], [], {"trained": 0, "loaded": 0, "cached": 0}
    ctx = {"pair": p, "dataset": dataset, "models_dir": Path(models_dir), "dev": data.dev, "test_tokens": test_tokens}
    ctx |= {"model": model, "crf_config": crf_config, "encoder": encoder}
    for s in seeds:
        cfg = dataclasses.replace(train_config, model=model, seed=s)
        dial, preds = dials[s], []
        for js in chosen:
            lev = dial.level(js)
            folder, pred, action = _predict_at(data.train.select(lev.indices), level_dir_name(js), cfg, ctx)
            actions[action] += 1
            preds.append(pred)
            row = _level_row(dial, lev, gold, pred, preds[0], n_resamples)
            rows.append({"pair": p.name, "model": model, "seed": s, "level": "dial", **row, "model_dir": str(folder)})
        if include_original:  # the capped source set itself: what level 0's resampling costs or gains
            folder, pred, action = _predict_at(data.train, "original", cfg, ctx)
            actions[action] += 1
            orig = _original_level(dial, data.train)
            row = _level_row(dial, orig, gold, pred, preds[0], n_resamples)
            row["target_js"] = row["lambda"] = math.nan
            rows.append(
                {"pair": p.name, "model": model, "seed": s, "level": "original", **row, "model_dir": str(folder)}
            )
        counts.append([sentence_counts(gold, pr, "strict") for pr in preds])
    table = pd.DataFrame(rows)
    arr = np.asarray(counts, dtype=float)  # seeds × levels × sentences × 3
    js = (
        table[table["level"] == "dial"]
        .pivot(index="seed", columns="target_js", values="achieved_js")
        .loc[list(seeds), chosen]
        .to_numpy()
    )
    summary, slopes = pooled_statistics(arr, js, chosen, n_resamples=n_resamples, seed=min(seeds), max_js=slope_max_js)
    summary.insert(0, "model", model)
    summary.insert(0, "pair", p.name)
    slopes.insert(0, "model", model)
    slopes.insert(0, "pair", p.name)
    stats = {**actions, "levels": chosen, "corner": {s: d.corner for s, d in dials.items()}}
    stats["max_reachable"] = {s: d.max_reachable() for s, d in dials.items()}
    return DialExperiment(table, summary, slopes, arr, stats)


def _f1(c: np.ndarray) -> np.ndarray:
    """Micro F1 from summed ``[gold, predicted, correct]`` on the last axis (0 where nothing is gold or predicted)."""
    denom = c[..., 0] + c[..., 1]
    return np.divide(2 * c[..., 2], denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def _weighted_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``y`` on ``x`` with point weights ``w`` (all ``(..., points)``), over the last axis."""
    sw = w.sum(-1, keepdims=True)
    xm = (w * x).sum(-1, keepdims=True) / sw
    ym = (w * y).sum(-1, keepdims=True) / sw
    sxx = (w * (x - xm) ** 2).sum(-1)
    return np.divide((w * (x - xm) * (y - ym)).sum(-1), sxx, out=np.full(sxx.shape, np.nan), where=sxx > 0)


def _resampled_f1(counts: np.ndarray, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F1 per (seed, level) at the full data and per bootstrap resample, and the resamples' seed weights.

    Sentences are resampled once per resample for every seed and level (paired); seeds are resampled with
    replacement when there are several (a weight per seed: how often it was drawn). Multinomial weights are the
    same as index resampling and let one ``einsum`` sum the counts of all resamples.
    """
    n_seeds, _, n, _ = counts.shape
    rng = np.random.default_rng(seed)
    w_sent = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)
    if n_seeds > 1:
        w_seed = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_resamples).astype(float)
    else:
        w_seed = np.ones((n_resamples, 1))
    point = _f1(counts.sum(axis=2))  # seeds × levels
    boot = _f1(np.einsum("bn,slnk->bslk", w_sent, counts))  # resamples × seeds × levels
    return point, boot, w_seed


def pooled_statistics(
    counts: np.ndarray,
    js: np.ndarray,
    levels: Sequence[float],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    max_js: Sequence[float | None] = (None,),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-level F1 and drop pooled over seeds, and the slope of F1 on achieved JS, with bootstrap CIs.

    ``counts``: seeds × levels × sentences × [gold, predicted, correct] (strict, per target test sentence);
    ``js``: the achieved JS per seed and level. Returns ``(summary, slopes)``: ``summary`` has one row per level
    (mean achieved JS, F1 = mean over seeds, drop = F1(level 0) − F1(level), each with a CI); ``slopes`` one row
    per ``max_js`` (F1 change per bit of JS, its CI, whether the CI excludes 0, the levels used).
    """
    counts, js = np.asarray(counts, dtype=float), np.asarray(js, dtype=float)
    if counts.ndim != 4 or counts.shape[-1] != 3 or js.shape != counts.shape[:2] or len(levels) != js.shape[1]:
        raise DivergenceError(
            f"expected counts of shape (seeds, levels, sentences, 3) and js of shape (seeds, levels) for "
            f"{len(levels)} levels; got {counts.shape} and {js.shape}"
        )
    alpha = (1 - confidence) / 2
    point, boot, w_seed = _resampled_f1(counts, n_resamples, seed)
    wn = w_seed / w_seed.sum(axis=1, keepdims=True)
    f1_b = np.einsum("bs,bsl->bl", wn, boot)
    drop_b = np.einsum("bs,bsl->bl", wn, boot[:, :, :1] - boot)
    f1_p, drop_p = point.mean(axis=0), (point[:, :1] - point).mean(axis=0)

    def ci(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.quantile(b, alpha, axis=0), np.quantile(b, 1 - alpha, axis=0)

    (f_lo, f_hi), (d_lo, d_hi) = ci(f1_b), ci(drop_b)
    summary = pd.DataFrame(
        {
            "target_js": list(levels),
            "achieved_js": js.mean(axis=0),
            "n_seeds": counts.shape[0],
            "n_test_sentences": counts.shape[2],
            "f1": f1_p,
            "f1_low": f_lo,
            "f1_high": f_hi,
            "drop": drop_p,
            "drop_low": d_lo,
            "drop_high": d_hi,
        }
    )
    slope_rows = []
    for top in max_js:
        use = np.array([top is None or lev <= top + 1e-12 for lev in levels])
        if use.sum() < 2:
            raise DivergenceError(f"a slope needs ≥ 2 levels; only {int(use.sum())} are ≤ {top}")
        x = js[:, use].reshape(-1)
        pt = _weighted_slope(x, point[:, use].reshape(-1), np.ones_like(x))
        xb = np.broadcast_to(x, (n_resamples, x.size))
        wb = np.repeat(w_seed, int(use.sum()), axis=1)
        sb = _weighted_slope(xb, boot[:, :, use].reshape(n_resamples, -1), wb)
        lo, hi = np.nanquantile(sb, alpha), np.nanquantile(sb, 1 - alpha)
        slope_rows.append(
            {
                "js_range": "all" if top is None else f"<= {top:g}",
                "n_levels": int(use.sum()),
                "n_seeds": counts.shape[0],
                "slope": float(pt),
                "slope_low": float(lo),
                "slope_high": float(hi),
                "excludes_zero": bool(lo > 0 or hi < 0),
                "confidence": confidence,
                "n_resamples": n_resamples,
            }
        )
    return summary, pd.DataFrame(slope_rows)


def plot_dial_experiment(
    summary: pd.DataFrame, slopes: pd.DataFrame, *, title: str = "", js_range: str = "all"
) -> matplotlib.figure.Figure:
    """Transfer F1 against achieved JS, one line per pair (and model), CI error bars; slope ± CI in the legend.

    ``summary`` and ``slopes`` are the tables of :func:`run_dial_experiment` (several pairs concatenated);
    ``js_range`` picks the slope row shown in the legend. Drawn in the compendium's colour-blind-safe style.
    """
    import matplotlib.pyplot as plt

    keys = sorted(summary.groupby(["pair", "model"]).groups)
    several_models = summary["model"].nunique() > 1
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    with style():
        fig, ax = plt.subplots(figsize=(5.2, 3.4))
        for i, (pair, model) in enumerate(keys):
            d = summary[(summary["pair"] == pair) & (summary["model"] == model)].sort_values("achieved_js")
            s = slopes[(slopes["pair"] == pair) & (slopes["model"] == model) & (slopes["js_range"] == js_range)]
            name = pair.replace("-", "→") + (f" · {model}" if several_models else "")
            if len(s):
                r = s.iloc[0]
                name += f": slope {r.slope:+.2f} [{r.slope_low:+.2f}, {r.slope_high:+.2f}]"
            yerr = np.vstack([d["f1"] - d["f1_low"], d["f1_high"] - d["f1"]])
            ax.errorbar(
                d["achieved_js"], d["f1"], yerr=yerr, color=PALETTE[i % len(PALETTE)], marker=markers[i % 8],
                markersize=4, capsize=3, linewidth=1.2, label=name,
            )  # fmt: skip
        ax.set_xlabel("Jensen–Shannon divergence of the training type mix from the target's (bits)")
        ax.set_ylabel("transfer F1 on target test (strict)")
        ax.set_ylim(bottom=0)
        ax.set_title(title or "the divergence dial: same data size, only the type mix moves")
        ax.legend(title=f"pair: slope of F1 per bit, 95 % CI ({js_range})", loc="best", frameon=False)
    return fig


__all__ = [
    "DEFAULT_BASE_LEVELS",
    "DialExperiment",
    "choose_levels",
    "plot_dial_experiment",
    "pooled_statistics",
    "run_dial_experiment",
]
