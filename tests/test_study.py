"""The study's answers from the tables: our numbers beside the published ones, and verdicts on published findings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xner import study

PAIRS = ["id-ms", "ar-fa", "ar-hi", "nl-af", "hi-mr"]


def _eval(native: dict[str, float], zero: dict[str, float], model: str = "e5-small", seeds=(0,)) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        for tgt, f in native.items():
            rows.append(dict(source=tgt, target=tgt, setting="native", f1=f + 0.01 * seed))
        for pair, f in zero.items():
            src, tgt = pair.split("-")
            rows.append(dict(source=src, target=tgt, setting="zero-shot", f1=f + 0.01 * seed))
    df = pd.DataFrame(rows)
    df["eval_lang"] = df["target"]
    return df.assign(
        model=model,
        seed=np.repeat(list(seeds), len(native) + len(zero)),
        perturbation="clean",
        f1_low=df["f1"] - 0.05,
        f1_high=df["f1"] + 0.05,
    )


NATIVE = {"ms": 0.9, "fa": 0.85, "hi": 0.8, "af": 0.88, "mr": 0.82}
ZERO = {"id-ms": 0.7, "ar-fa": 0.4, "ar-hi": 0.6, "nl-af": 0.8, "hi-mr": 0.5}


def test_published_comparison_puts_ours_beside_theirs():
    ev = _eval(NATIVE, ZERO, seeds=(0, 1, 2))
    table = study.published_comparison(ev, PAIRS)
    idms = table[(table["pair"] == "id-ms") & (table["setting"] == "zero-shot")].iloc[0]
    assert idms["f1"] == pytest.approx(0.71) and idms["n_seeds"] == 3
    assert idms["seed_sd"] == pytest.approx(0.01)
    assert idms["published mBERT"] == 0.687 and idms["published XLM-R base"] == 0.697
    mean = table[(table["pair"] == "mean over 5 pairs") & (table["setting"] == "native")].iloc[0]
    assert mean["published mBERT"] == 0.926 and mean["f1_low"] <= mean["f1"] <= mean["f1_high"]
    assert set(table["pair"]) == {"id-ms", "ar-fa", "ar-hi", "nl-af", "mean over 5 pairs"}


def test_findings_verdicts_follow_the_intervals():
    ev = _eval(NATIVE, ZERO)
    adv = pd.DataFrame(
        [
            dict(
                source=t, target=t, setting="native", model="e5-small", perturbation="foreign_names", drop=0.2 + i / 100
            )
            for i, t in enumerate(NATIVE)
        ]
        + [
            dict(
                source=p.split("-")[0],
                target=p.split("-")[1],
                setting="zero-shot",
                model="e5-small",
                perturbation="foreign_names",
                drop=0.05,
            )
            for p in ZERO
        ]
    )
    overlap = {"id-ms": 0.6, "ar-fa": 0.1, "ar-hi": 0.3, "nl-af": 0.7, "hi-mr": 0.2}  # tracks ZERO exactly
    joined = pd.DataFrame(
        [
            dict(
                source=p.split("-")[0],
                target=p.split("-")[1],
                model="e5-small",
                measure="entity_overlap",
                value=overlap[p],
                transfer_f1=ZERO[p],
            )
            for p in ZERO
        ]
    )
    f = study.findings(ev, adv, joined, PAIRS, n_resamples=500).set_index("finding")
    assert f.loc["transfer_below_native", "verdict"] == "reproduced"
    assert f.loc["transfer_below_native", "estimate"] == pytest.approx(
        np.mean([NATIVE[p[-2:]] - ZERO[p] for p in ZERO])
    )
    assert f.loc["names_hurt_native_most", "verdict"] == "reproduced"
    assert f.loc["drop_tracks_overlap", "estimate"] == pytest.approx(1.0)
    assert f["published"].str.len().min() > 10
    # the other way round: transfer better than native on every pair is "reversed", mixed signs "inconclusive"
    rev = study.findings(_eval({k[-2:]: v - 0.5 for k, v in ZERO.items()}, ZERO), None, None, PAIRS)
    assert rev.set_index("finding").loc["transfer_below_native", "verdict"] == "reversed"
    mixed = {"ms": 0.8, "fa": 0.3, "hi": 0.7, "af": 0.7, "mr": 0.55}
    assert study.findings(_eval(mixed, ZERO), None, None, PAIRS)["verdict"].iloc[0] == "inconclusive"


def test_seed_interval_holds_test_and_seed_variance():
    # one seed: its own interval; several: wider than the mean test-set interval by the seed variance
    assert study.seed_ci(np.array([0.7]), np.array([0.65]), np.array([0.75])) == (0.65, 0.75)
    f1 = np.array([0.60, 0.70, 0.80])
    low, high = study.seed_ci(f1, f1 - 0.05, f1 + 0.05)
    z = 1.959964
    assert (low + high) / 2 == pytest.approx(0.70)
    assert (high - low) / 2 == pytest.approx(z * np.sqrt((0.05 / z) ** 2 + 0.01 / 3), rel=1e-4)
    same = study.seed_ci(np.full(3, 0.7), np.full(3, 0.65), np.full(3, 0.75))
    assert same == pytest.approx((0.65, 0.75))  # no seed variance: the test-set interval


def test_seed_spread_lists_the_models_with_several_seeds():
    ev = pd.concat([_eval(NATIVE, {}), _eval({}, ZERO, seeds=(0, 1, 2))], ignore_index=True)
    spread = study.seed_spread(ev, PAIRS)
    assert set(spread["setting"]) == {"zero-shot"} and len(spread) == len(ZERO)
    row = spread[spread["pair"] == "ar-fa"].iloc[0]
    assert row["f1_per_seed"] == "0.400 / 0.410 / 0.420" and row["seeds"] == "0,1,2"
    assert row["seed_range"] == pytest.approx(0.02)
    assert row["f1_low"] < 0.41 - 0.05 and row["f1_high"] > 0.41 + 0.05  # wider than one seed's
    native = study.pair_f1(ev, PAIRS)
    assert (native.loc[native["setting"] == "native", "n_seeds"] == 1).all()
