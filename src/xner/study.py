"""The study's answers, computed from the stage tables only: our F1 beside the published numbers, and whether the
direction of each published finding is reproduced, with bootstrap confidence intervals over pairs.

* :func:`published_comparison` — native and zero-shot strict F1 per pair and model (mean over seeds, with an
  interval holding both test-set and seed variance, and the seed spread — :func:`pair_f1`, :func:`seed_spread`)
  beside the published mBERT and XLM-R base numbers of ``configs/published.yaml`` (the four shared pairs, and the
  means over pairs);
* :func:`findings` — the published findings as tests over our pairs: *transfer < native* (mean over pairs of
  native − zero-shot F1), *names hurt native models most* (mean over pairs of the native model's drop under
  foreign-name replacement minus the zero-shot model's), *transfer F1 tracks entity overlap* (Spearman ρ over pairs
  of zero-shot F1 with the share of target test entity mentions seen as source training entities). A finding is
  ``reproduced`` when the 95 % interval excludes 0 in the published direction, ``reversed`` when it excludes 0 in
  the other, else ``inconclusive``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from xner.config import ConfigError, config_dir
from xner.divergence.drop import spearman

NAME_PERTURBATION = "foreign_names"
OVERLAP_MEASURE = "entity_overlap"


@functools.cache
def published(path: str | Path | None = None) -> dict:
    """The published numbers (``configs/published.yaml``)."""
    p = Path(path) if path is not None else config_dir() / "published.yaml"
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read the published numbers ({exc})") from None


def _clean_target_rows(evaluation: pd.DataFrame) -> pd.DataFrame:
    ev = evaluation[(evaluation["perturbation"] == "clean") & (evaluation["eval_lang"] == evaluation["target"])]
    return ev[ev["setting"].isin(["native", "zero-shot"])]


def seed_ci(f1: np.ndarray, low: np.ndarray, high: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """An interval for the mean F1 over seeds that holds both the test-set sampling and the seed variance.

    Each seed's percentile-bootstrap interval gives its test-set standard error, ``(high − low) / (2 z)``; the
    variance of the mean is taken as the mean of those variances (the seeds are scored on the same sentences, so their
    test-set errors are nearly the same — averaging them is the conservative choice) plus the seed variance over the
    number of seeds. A normal interval around the mean; with one seed it is that seed's own interval.
    """
    f1, low, high = (np.asarray(a, dtype=float) for a in (f1, low, high))
    if len(f1) == 1:
        return float(low[0]), float(high[0])
    z = stats.norm.ppf(0.5 + confidence / 2)
    var = np.mean(((high - low) / (2 * z)) ** 2) + f1.var(ddof=1) / len(f1)
    half = z * float(np.sqrt(var))
    return float(f1.mean() - half), float(f1.mean() + half)


def pair_f1(evaluation: pd.DataFrame, pairs: list[str]) -> pd.DataFrame:
    """Native and zero-shot F1 per pair and model: mean over seeds, its interval with the seed variance in it
    (:func:`seed_ci`), and the seed spread (SD, minimum, maximum).

    The native row of pair ``s-t`` is the model trained and tested on ``t``; the zero-shot row is ``s`` → ``t``.
    """
    ev = _clean_target_rows(evaluation).drop_duplicates(["source", "target", "setting", "model", "seed"])
    rows = []
    for pair in pairs:
        src, tgt = pair.split("-")
        for setting, source in (("native", tgt), ("zero-shot", src)):
            sub = ev[(ev["setting"] == setting) & (ev["source"] == source) & (ev["target"] == tgt)]
            for model, g in sub.groupby("model", sort=True):
                g = g.sort_values("seed")
                low, high = seed_ci(g["f1"], g["f1_low"], g["f1_high"])
                rows.append(
                    {
                        "pair": pair,
                        "setting": setting,
                        "model": model,
                        "f1": g["f1"].mean(),
                        "f1_low": low,
                        "f1_high": high,
                        "n_seeds": len(g),
                        "seed_sd": g["f1"].std(ddof=1) if len(g) > 1 else np.nan,
                        "seed_min": g["f1"].min(),
                        "seed_max": g["f1"].max(),
                        "seeds": ",".join(str(int(s)) for s in g["seed"]),
                        "f1_per_seed": " / ".join(f"{v:.3f}" for v in g["f1"]),
                    }
                )
    return pd.DataFrame(rows)


def seed_spread(evaluation: pd.DataFrame, pairs: list[str]) -> pd.DataFrame:
    """The rows of :func:`pair_f1` trained with more than one seed: F1 per seed, its spread and the interval."""
    f1 = pair_f1(evaluation, pairs)
    if f1.empty:
        return f1
    multi = f1[f1["n_seeds"] > 1].copy()
    multi.insert(multi.columns.get_loc("f1"), "f1_per_seed", multi.pop("f1_per_seed"))
    return multi.assign(seed_range=multi["seed_max"] - multi["seed_min"]).reset_index(drop=True)


def published_comparison(evaluation: pd.DataFrame, pairs: list[str], pub: dict | None = None) -> pd.DataFrame:
    """Our native and zero-shot F1 beside the published numbers: the shared pairs, then the means over pairs."""
    pub = (pub or published())["robustness"]
    ours = pair_f1(evaluation, pairs)
    rows = []
    for pair, per in pub["zero-shot"].items():
        for r in ours[(ours["pair"] == pair) & (ours["setting"] == "zero-shot")].itertuples():
            rows.append({**r._asdict(), **{f"published {m}": v for m, v in per.items()}})
    for setting, per in pub["mean"].items():
        for model, g in ours[ours["setting"] == setting].groupby("model", sort=True):
            ci = _mean_ci(g["f1"].to_numpy(float))
            row = {"pair": f"mean over {len(g)} pairs", "setting": setting, "model": model, "f1": g["f1"].mean()}
            row.update(f1_low=ci[0], f1_high=ci[1], n_seeds=int(g["n_seeds"].min()))
            rows.append({**row, **{f"published {m}": v for m, v in per.items()}})
    out = pd.DataFrame(rows).drop(columns=["Index", "f1_per_seed"], errors="ignore")
    return out


def _mean_ci(values: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over pairs (NaN with fewer than 2 values)."""
    if len(values) < 2 or np.ptp(values) == 0:
        return (float(values.mean()),) * 2 if len(values) else (np.nan, np.nan)
    res = stats.bootstrap(
        (values,), np.mean, n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _verdict(low: float, high: float, sign: int) -> str:
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    if (sign > 0 and low > 0) or (sign < 0 and high < 0):
        return "reproduced"
    if (sign > 0 and high < 0) or (sign < 0 and low > 0):
        return "reversed"
    return "inconclusive"


def _finding(name: str, model: str, n: int, est: float, ci: tuple[float, float], sign: int, what: str) -> dict:
    low, high = ci
    verdict = _verdict(low, high, sign)
    return {
        "finding": name,
        "model": model,
        "n_pairs": n,
        "estimate": est,
        "low": low,
        "high": high,
        "verdict": verdict,
        "measured as": what,
    }


def findings(
    evaluation: pd.DataFrame,
    adversarial: pd.DataFrame | None,
    joined: pd.DataFrame | None,
    pairs: list[str],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each published finding tested on our pairs, per model (see the module docstring)."""
    rows = []
    f1 = pair_f1(evaluation, pairs)
    wide = f1.pivot_table(index=["pair", "model"], columns="setting", values="f1").dropna().reset_index()
    for model, g in wide.groupby("model", sort=True):
        d = (g["native"] - g["zero-shot"]).to_numpy(float)
        what = "mean over pairs of native − zero-shot F1"
        rows.append(_finding("transfer_below_native", model, len(d), d.mean(), _mean_ci(d), +1, what))
    if adversarial is not None and not adversarial.empty:
        adv = adversarial[(adversarial["perturbation"] == NAME_PERTURBATION) & adversarial["drop"].notna()]
        nat = adv[adv["setting"] == "native"].groupby(["target", "model"])["drop"].mean()
        zs = adv[adv["setting"] == "zero-shot"].groupby(["source", "target", "model"])["drop"].mean().reset_index()
        zs = zs[(zs["source"] + "-" + zs["target"]).isin(pairs)]
        zs["native_drop"] = [nat.get((t, m), np.nan) for t, m in zip(zs["target"], zs["model"], strict=True)]
        for model, g in zs.dropna(subset=["native_drop"]).groupby("model", sort=True):
            d = (g["native_drop"] - g["drop"]).to_numpy(float)
            what = f"mean over pairs of the native minus the zero-shot model's F1 drop under {NAME_PERTURBATION}"
            rows.append(_finding("names_hurt_native_most", model, len(d), d.mean(), _mean_ci(d), +1, what))
    if joined is not None and not joined.empty:
        ov = joined[(joined["measure"] == OVERLAP_MEASURE) & (joined["source"] + "-" + joined["target"]).isin(pairs)]
        for model, g in ov.groupby("model", sort=True):
            x, y = g["value"].to_numpy(float), g["transfer_f1"].to_numpy(float)
            if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
                continue
            res = stats.bootstrap(
                (x, y),
                lambda a, b, axis=-1: spearman(a, b, axis=axis),
                paired=True,
                vectorized=True,
                n_resamples=n_resamples,
                method="percentile",
                rng=np.random.default_rng(seed),
            )
            ci = (float(res.confidence_interval.low), float(res.confidence_interval.high))
            what = f"Spearman ρ over pairs of zero-shot F1 with {OVERLAP_MEASURE}"
            rows.append(_finding("drop_tracks_overlap", model, len(x), float(spearman(x, y)), ci, +1, what))
    out = pd.DataFrame(rows)
    pub = published()["robustness"]["findings"]
    if not out.empty:
        out.insert(1, "published", out["finding"].map(pub))
    return out
