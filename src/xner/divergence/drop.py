"""Which divergence predicts the transfer drop? Join stage-02 divergences with the evaluation tables of the
training (04) and adversarial (05) stages and correlate them with ``drop = native F1 − transfer F1``.

* :func:`load_eval_tables` finds evaluation tables under ``results/`` by a glob the caller passes and checks the
  shared schema (``source, target, setting, model, seed, eval_lang, eval_dataset, eval_split, perturbation,
  n_sentences, precision, recall, f1, f1_low, f1_high, lenient_f1``). No table is a clear error naming where it
  looked: the drop cannot be predicted before those stages have run.
* :func:`transfer_drops` — per ``(source, target, model, eval_dataset)``: the native F1 (trained and tested on
  the target, mean over seeds) minus the transfer F1 (trained on the source, tested on the target, mean over seeds).
* :func:`correlate` — per measure, Spearman and Pearson correlation with the drop over pairs, with percentile
  bootstrap confidence intervals over pairs (``scipy.stats.bootstrap``, paired resampling). Resamples in which
  one side is constant have no correlation; they are counted (``n_degenerate``) and left out of the interval.
* :func:`plot_drop_scatter` — one panel per measure: pairs as points, the least-squares line, ρ in the title.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from xner.config import results_dir
from xner.divergence.compare import measure_kind
from xner.divergence.measures import DivergenceError
from xner.figures import PALETTE, style
from xner.metrics import EVAL_SCHEMA

if TYPE_CHECKING:
    import matplotlib.figure

EVAL_COLUMNS = EVAL_SCHEMA
KEYS = ["source", "target", "model", "eval_dataset"]


class NoTransferResults(FileNotFoundError):
    """No evaluation tables were found where the caller said to look."""


class TooFewPairs(DivergenceError):
    """Fewer pairs have both a drop and divergences than a correlation needs."""


def load_eval_tables(pattern: str = "*/04_training/**/training.csv", root: str | Path | None = None) -> pd.DataFrame:
    """Read and concatenate every evaluation table matching ``pattern`` under ``root`` (default: results dir).

    Raises :class:`NoTransferResults` naming the folder and pattern when nothing matches, and
    :class:`DivergenceError` naming the file when a table lacks schema columns.
    """
    root = Path(root) if root is not None else results_dir()
    files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix == ".csv")
    if not files:
        raise NoTransferResults(
            f"no evaluation tables match {pattern!r} under {root.resolve()}: the transfer drop needs the results of "
            f"the training (04) and adversarial (05) stages; run them first (or pass the glob that finds their tables)"
        )
    frames = []
    for f in files:
        df = pd.read_csv(f)
        missing = [c for c in EVAL_COLUMNS if c not in df.columns]
        if missing:
            raise DivergenceError(
                f"{f}: not an evaluation table, missing columns {missing} (schema: {', '.join(EVAL_COLUMNS)})"
            )
        df["table"] = str(f.relative_to(root))
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def transfer_drops(
    evals: pd.DataFrame,
    *,
    transfer_setting: str = "zero-shot",
    native_setting: str = "native",
    perturbation: str = "clean",
    eval_split: str = "test",
) -> pd.DataFrame:
    """Native F1 − transfer F1 per ``(source, target, model, eval_dataset)``; F1 averaged over seeds first.

    Native rows: ``setting == native_setting`` and ``source == target == eval_lang``. Transfer rows:
    ``setting == transfer_setting``, ``source != target`` and ``eval_lang == target``. Both restricted to
    ``perturbation`` and ``eval_split``. A transfer pair with no native result for its target and model cannot
    have a drop: such pairs are listed in ``df.attrs["unmatched"]`` (never silently lost).
    """
    ev = evals[(evals["perturbation"] == perturbation) & (evals["eval_split"] == eval_split)]
    nat = ev[(ev["setting"] == native_setting) & (ev["source"] == ev["target"]) & (ev["eval_lang"] == ev["target"])]
    tra = ev[(ev["setting"] == transfer_setting) & (ev["source"] != ev["target"]) & (ev["eval_lang"] == ev["target"])]
    if tra.empty:
        raise DivergenceError(
            f"no {transfer_setting!r} rows (perturbation {perturbation!r}, split {eval_split!r}) in the "
            "evaluation tables; "
            f"settings present: {sorted(evals['setting'].unique())}"
        )
    if nat.empty:
        raise DivergenceError(
            f"no {native_setting!r} rows (perturbation {perturbation!r}, split {eval_split!r}); the drop needs "
            "native F1"
        )
    n = nat.groupby(["target", "model", "eval_dataset"], as_index=False).agg(
        native_f1=("f1", "mean"), native_seeds=("seed", "nunique")
    )
    t = tra.groupby(KEYS, as_index=False).agg(transfer_f1=("f1", "mean"), transfer_seeds=("seed", "nunique"))
    out = t.merge(n, on=["target", "model", "eval_dataset"], how="left", validate="many_to_one")
    unmatched = out[out["native_f1"].isna()]
    out = out.dropna(subset=["native_f1"]).reset_index(drop=True)
    out["drop"] = out["native_f1"] - out["transfer_f1"]
    out["relative_drop"] = out["drop"] / out["native_f1"].where(out["native_f1"] > 0)
    out.attrs["unmatched"] = [f"{r.source}-{r.target} ({r.model}, {r.eval_dataset})" for r in unmatched.itertuples()]
    if out.empty:
        raise DivergenceError(
            f"no transfer pair has a native result for its target and model; unmatched: {out.attrs['unmatched']}"
        )
    return out[[*KEYS, "native_f1", "transfer_f1", "drop", "relative_drop", "native_seeds", "transfer_seeds"]]


def join_divergences(
    drops: pd.DataFrame, divergences: pd.DataFrame, measures: Iterable[str] | None = None
) -> pd.DataFrame:
    """Join drops with a tidy divergence table (``source, target, measure, value``) on the pair; long format.

    Pairs with a drop but no divergences are listed in ``df.attrs["missing"]``.
    """
    div = divergences[["source", "target", "measure", "value"]]
    if measures is not None:
        measures = list(measures)
        unknown = sorted(set(measures) - set(div["measure"]))
        if unknown:
            raise DivergenceError(
                f"measures {unknown} are not in the divergence table; it has: {', '.join(div['measure'].unique())}"
            )
        div = div[div["measure"].isin(measures)]
    div = div.drop_duplicates(["source", "target", "measure"])
    out = drops.merge(div, on=["source", "target"], how="inner")
    have = set(zip(div["source"], div["target"], strict=True))
    out.attrs["missing"] = sorted(
        {f"{s}-{t}" for s, t in zip(drops["source"], drops["target"], strict=True) if (s, t) not in have}
    )
    if out.empty:
        raise DivergenceError(
            "no pair has both a drop and divergences; check that the divergence table covers the evaluated pairs"
        )
    return out


def _corr(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson correlation along ``axis`` (vectorised for the bootstrap); NaN where either side is constant."""
    const = (np.ptp(x, axis=axis) == 0) | (np.ptp(y, axis=axis) == 0)
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=axis) * (yc * yc).sum(axis=axis))
    r = (xc * yc).sum(axis=axis) / np.where(const | (den == 0), 1.0, den)
    r = np.where(const, np.nan, r)
    return np.clip(r, -1.0, 1.0)


def pearson(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson r along ``axis`` (NaN for a constant side)."""
    return _corr(np.asarray(x, float), np.asarray(y, float), axis)


def spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman ρ along ``axis``: Pearson r of average ranks (ties share their mean rank), NaN for a constant side."""
    return _corr(stats.rankdata(x, axis=axis), stats.rankdata(y, axis=axis), axis)


def _boot_ci(
    x: np.ndarray, y: np.ndarray, stat, n_resamples: int, confidence: float, seed: int
) -> tuple[float, float, int]:
    with warnings.catch_warnings():
        # degenerate resamples (one side constant) are counted and handled below, not merely warned about
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            (x, y),
            stat,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    dist = np.asarray(res.bootstrap_distribution)
    ok = dist[np.isfinite(dist)]
    n_bad = int(dist.size - ok.size)
    if ok.size < 0.5 * dist.size:
        return math.nan, math.nan, n_bad
    if n_bad:  # scipy's interval is NaN as soon as one resample is; take the percentiles of the defined ones
        alpha = (1 - confidence) / 2
        lo, hi = np.quantile(ok, [alpha, 1 - alpha])
        return float(lo), float(hi), n_bad
    return float(res.confidence_interval.low), float(res.confidence_interval.high), 0


def permutation_p(x: np.ndarray, y: np.ndarray, stat, n_resamples: int, seed: int) -> float:
    """Two-sided permutation p-value of a correlation: how often pairing ``y`` with a shuffled ``x`` gives a
    correlation at least as far from 0 (``scipy.stats.permutation_test``, exact when few pairings exist)."""
    res = stats.permutation_test(
        (x, y),
        lambda a, b, axis=-1: stat(a, b, axis=axis),
        permutation_type="pairings",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


def correlate(
    joined: pd.DataFrame,
    *,
    by: Sequence[str] = ("model", "eval_dataset"),
    outcome: str = "drop",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    min_pairs: int = 3,
) -> pd.DataFrame:
    """Spearman and Pearson correlation of each measure with the drop, over pairs, with bootstrap CIs and
    permutation p-values.

    One row per group (``by``) × measure: ``outcome`` (the column correlated: ``drop`` = native F1 − transfer F1,
    or ``relative_drop`` = drop / native F1), ``n_pairs, spearman, spearman_low, spearman_high, spearman_p,
    pearson, pearson_low, pearson_high, pearson_p, n_degenerate, kind, rank`` (rank 1 = largest |Spearman| in its
    group, the best predictor; overlap measures are expected to correlate negatively). A measure constant over the
    pairs has no correlation: its row says so in ``note`` (NaN values, no rank) instead of vanishing. Fewer than
    ``min_pairs`` pairs is an error.
    """
    if not (0 < confidence < 1):
        raise DivergenceError(f"confidence must be in (0, 1), got {confidence}")
    by = list(by)
    rows = []
    for key, grp in joined.groupby(by + ["measure"], sort=True):
        *gkey, measure = key
        x, y = grp["value"].to_numpy(float), grp[outcome].to_numpy(float)
        n = len(grp)
        if n < min_pairs:
            raise TooFewPairs(
                f"{dict(zip(by, gkey, strict=True))}, {measure}: {n} pair(s); at least {min_pairs} are needed "
                "to correlate with the drop"
            )
        row = {
            **dict(zip(by, gkey, strict=True)),
            "outcome": outcome,
            "measure": measure,
            "kind": measure_kind(measure),
            "n_pairs": n,
        }
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            row.update(
                {
                    k: math.nan
                    for k in (
                        "spearman",
                        "spearman_low",
                        "spearman_high",
                        "spearman_p",
                        "pearson",
                        "pearson_low",
                        "pearson_high",
                        "pearson_p",
                    )
                }
            )
            row.update(
                n_degenerate=n_resamples, note=f"{'measure' if np.ptp(x) == 0 else 'drop'} is constant over the pairs"
            )
            rows.append(row)
            continue
        notes = []
        for name, fn in (("spearman", spearman), ("pearson", pearson)):
            lo, hi, bad = _boot_ci(x, y, fn, n_resamples, confidence, seed)
            p = permutation_p(x, y, fn, n_resamples, seed)
            row.update({name: float(fn(x, y)), f"{name}_low": lo, f"{name}_high": hi, f"{name}_p": p})
            row["n_degenerate"] = max(row.get("n_degenerate", 0), bad)
            if math.isnan(lo):
                notes.append(f"{name}: over half of the resamples are degenerate; no interval")
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["abs_spearman"] = out["spearman"].abs()
    out["rank"] = out.groupby(by)["abs_spearman"].rank(ascending=False, method="min").astype("Int64")
    out = (
        out.sort_values(by + ["rank", "measure"], na_position="last")
        .drop(columns="abs_spearman")
        .reset_index(drop=True)
    )
    out.attrs["confidence"], out.attrs["n_resamples"], out.attrs["seed"] = confidence, n_resamples, seed
    return out


def best_predictors(corr: pd.DataFrame, by: Sequence[str] = ("model", "eval_dataset")) -> pd.DataFrame:
    """The rank-1 measure(s) of each group (and outcome): the divergence whose |Spearman ρ| with the drop is
    largest."""
    return corr[corr["rank"] == 1].reset_index(drop=True)


def predict_drop(
    divergences: pd.DataFrame,
    pattern: str = "*/04_training/**/training.csv",
    root: str | Path | None = None,
    *,
    measures: Iterable[str] | None = None,
    transfer_setting: str = "zero-shot",
    n_resamples: int = 2000,
    seed: int = 0,
    pairs: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole step: evaluation tables (glob) → drops → join → correlations with the absolute and the relative
    drop (the ``outcome`` column); returns ``(joined, correlations)``.

    ``pairs`` (``"src-tgt"`` names) keeps only the transfer rows of those pairs and the native rows of their targets,
    so a run about some pairs never correlates over other pairs' results that happen to be on disk; when none of
    them has a transfer result yet, :class:`NoTransferResults` says so.
    """
    evals = load_eval_tables(pattern, root)
    if pairs is not None:
        evals = _rows_of_pairs(evals, list(pairs), transfer_setting, pattern, root)
    drops = transfer_drops(evals, transfer_setting=transfer_setting)
    joined = join_divergences(drops, divergences, measures)
    joined.attrs["unmatched"] = drops.attrs.get("unmatched", [])
    corr = pd.concat(
        [correlate(joined, outcome=o, n_resamples=n_resamples, seed=seed) for o in ("drop", "relative_drop")],
        ignore_index=True,
    )
    corr.attrs.update(confidence=0.95, n_resamples=n_resamples, seed=seed)
    return joined, corr


def _rows_of_pairs(
    evals: pd.DataFrame, pairs: list[str], transfer_setting: str, pattern: str, root: str | Path | None
) -> pd.DataFrame:
    """The evaluation rows of ``pairs``: their transfer rows and the native rows of their targets."""
    pair_of = evals["source"].astype(str) + "-" + evals["target"].astype(str)
    targets = {p.split("-", 1)[1] for p in pairs}
    transfer = (evals["setting"] == transfer_setting) & pair_of.isin(pairs)
    native = (evals["source"] == evals["target"]) & evals["target"].isin(targets)
    if not transfer.any():
        raise NoTransferResults(
            f"no {transfer_setting!r} results of {', '.join(pairs)} in the tables matching {pattern!r} under "
            f"{Path(root) if root is not None else results_dir()}: run stage 04 for them first"
        )
    return evals[transfer | native]


def fit_band(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, ...]:
    """The least-squares line of ``y`` on ``x`` over a grid of ``x`` and the half-width of its pointwise
    confidence band (ordinary least squares, Student t with n − 2 degrees of freedom)."""
    n = len(x)
    fit = stats.linregress(x, y)
    xs = np.linspace(x.min(), x.max(), 50)
    resid = y - (fit.intercept + fit.slope * x)
    s_err = math.sqrt(float(resid @ resid) / (n - 2)) if n > 2 else 0.0
    sxx = float(((x - x.mean()) ** 2).sum())
    half = stats.t.ppf(0.5 + confidence / 2, n - 2) * s_err * np.sqrt(1 / n + (xs - x.mean()) ** 2 / sxx)
    return xs, fit.intercept + fit.slope * xs, half


def plot_drop_scatter(
    joined: pd.DataFrame,
    measures: Sequence[str],
    *,
    corr: pd.DataFrame | None = None,
    ncols: int = 3,
) -> matplotlib.figure.Figure:
    """Scatter of drop against each measure (one panel each), pairs labelled, with the least-squares line and its
    95 % confidence band per model; ρ with its CI and permutation p in the title."""
    import matplotlib.pyplot as plt

    measures = list(measures)
    if not measures:
        raise DivergenceError("no measures to plot")
    ncols = min(ncols, len(measures))
    nrows = math.ceil(len(measures) / ncols)
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.6 * nrows), squeeze=False)
        for ax in axes.flat[len(measures) :]:
            ax.set_visible(False)
        for ax, m in zip(axes.flat, measures, strict=True):
            sub = joined[joined["measure"] == m]
            if sub.empty:
                raise DivergenceError(f"measure {m!r} is not in the joined table")
            for i, (model, g) in enumerate(sub.groupby("model", sort=True)):
                x, y = g["value"].to_numpy(float), g["drop"].to_numpy(float)
                colour = PALETTE[i % len(PALETTE)]
                ax.scatter(x, y, s=14, color=colour, label=model)
                for xi, yi, s, t in zip(x, y, g["source"], g["target"], strict=True):
                    ax.annotate(f"{s}→{t}", (xi, yi), fontsize=5, xytext=(2, 2), textcoords="offset points")
                if len(x) >= 3 and np.ptp(x) > 0:
                    xs, fit, band = fit_band(x, y)
                    ax.plot(xs, fit, color=colour, linewidth=1)
                    ax.fill_between(xs, fit - band, fit + band, color=colour, alpha=0.15, linewidth=0)
            title = m
            if corr is not None:
                r = corr[corr["measure"] == m]
                if "outcome" in r:
                    r = r[r["outcome"] == "drop"]
                for row in r.dropna(subset=["spearman"]).itertuples():
                    who = f"{row.model} " if len(r) > 1 and "model" in r else ""
                    p = f", p={row.spearman_p:.3f}" if "spearman_p" in r else ""
                    title += f"\n{who}ρ={row.spearman:.2f} [{row.spearman_low:.2f}, {row.spearman_high:.2f}]{p}"
            ax.set_title(title, fontsize=8)
            ax.set_xlabel(m, fontsize=7)
            ax.set_ylabel("drop (native F1 − transfer F1)", fontsize=7)
        if joined["model"].nunique() > 1:
            axes.flat[0].legend(fontsize=6)
        fig.tight_layout()
    return fig


__all__ = [
    "EVAL_COLUMNS",
    "NoTransferResults",
    "TooFewPairs",
    "best_predictors",
    "correlate",
    "fit_band",
    "join_divergences",
    "load_eval_tables",
    "pearson",
    "permutation_p",
    "plot_drop_scatter",
    "predict_drop",
    "spearman",
    "transfer_drops",
]
