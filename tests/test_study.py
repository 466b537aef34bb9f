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
