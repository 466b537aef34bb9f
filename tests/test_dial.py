"""The divergence dial: resampled training sets hit their Jensen–Shannon targets within the stated tolerance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xner.data import from_lists, read_conll
from xner.divergence import DivergenceError, js_divergence
from xner.divergence import dial as dl
from xner.labels import CONLL, WIKIANN

TOL = dl.DEFAULT_TOL  # 0.005 bits: the tolerance the dial promises


def synthetic_source(seed: int = 0, n: int = 1200):
    """Sentences of one, two or three entities of mixed types, plus some without entities."""
    rng = np.random.default_rng(seed)
    tokens, tags = [], []
    types = ["PER", "ORG", "LOC"]
    for i in range(n):
        k = rng.choice([0, 1, 1, 1, 2, 3])
        toks, tg = [f"w{i}"], ["O"]
        for j in range(k):
            t = types[rng.choice(3, p=[0.5, 0.3, 0.2])]
            toks += [f"{t.lower()}{i}_{j}", "x"]
            tg += [f"B-{t}", "O"]
        tokens.append(toks)
        tags.append(tg)
    return from_lists(tokens, tags, lang="aa", label_set=WIKIANN)


@pytest.fixture(scope="module")
def source():
    return synthetic_source()


TARGET = {"PER": 0.2, "ORG": 0.3, "LOC": 0.5}
LEVELS = (0.0, 0.05, 0.1, 0.2, 0.4)


def test_dial_hits_levels_within_tolerance(source):
    d, levels = dl.run_dial(source, TARGET, LEVELS, seed=3)
    q = np.array([TARGET[t] for t in d.types])
    for lev in levels:
        assert lev.status == "ok"
        assert abs(lev.achieved_js - lev.target_js) <= TOL, lev
        # recompute the achieved divergence from the sentences actually chosen
        position = {row: k for k, row in enumerate(d.entity_rows.tolist())}
        counts = d.counts[[position[i] for i in lev.indices if i in position]].sum(axis=0)
        assert js_divergence(counts, q) == pytest.approx(lev.achieved_js, abs=1e-12)
        assert len(lev.indices) == len(source)  # same size as the source
        assert set(d.empty_rows.tolist()) <= set(lev.indices)
    lams = [lev.lam for lev in levels]
    assert lams == sorted(lams)  # larger divergence, further along the path
    assert d.a_mismatch_js < 1e-8  # the tilted weights reproduce the target mix in expectation


def test_dial_is_seeded_and_reproducible(source):
    _, a = dl.run_dial(source, TARGET, (0.1,), seed=7)
    _, b = dl.run_dial(source, TARGET, (0.1,), seed=7)
    _, c = dl.run_dial(source, TARGET, (0.1,), seed=8)
    assert a[0].indices == b[0].indices and a[0].achieved_js == b[0].achieved_js
    assert a[0].indices != c[0].indices
    assert abs(c[0].achieved_js - 0.1) <= TOL


def test_target_as_a_split_and_corner(source):
    target = from_lists(
        [["p", "q", "r"], ["s"]], [["B-PER", "B-ORG", "B-ORG"], ["B-LOC"]], lang="bb", label_set=WIKIANN
    )
    d, levels = dl.run_dial(source, target, (0.0, 0.2), corner="LOC")
    assert d.corner == "LOC"
    assert np.allclose(d.target_mix, [0.25, 0.5, 0.25])
    assert all(abs(lev.achieved_js - lev.target_js) <= TOL for lev in levels)
    # moving towards the LOC corner raises the LOC share
    assert levels[1].type_counts["LOC"] / sum(levels[1].type_counts.values()) > 0.25


def test_unreachable_levels(source):
    d = dl.fit_dial(source, TARGET)
    top = d.max_reachable()
    assert 0.4 < top < 1
    with pytest.raises(dl.UnreachableError, match="maximum reachable") as exc:
        d.level(min(1.0, top + 0.05))
    assert f"{top:.4f}" in str(exc.value)
    _, levels = dl.run_dial(source, TARGET, (0.1, 0.99), on_unreachable="report")
    assert [lev.status for lev in levels] == ["ok", "unreachable"]
    assert "maximum reachable" in levels[1].message and math.isnan(levels[1].achieved_js)
    with pytest.raises(DivergenceError, match=r"\[0, 1\]"):
        d.level(1.5)


def test_target_type_missing_from_source_makes_zero_unreachable():
    src = from_lists(
        [["a"], ["b"], ["c", "d"]] * 20, [["B-PER"], ["B-ORG"], ["B-PER", "B-ORG"]] * 20, lang="aa", label_set=WIKIANN
    )
    with pytest.raises(dl.UnreachableError, match="smallest divergence reachable"):
        dl.run_dial(src, {"PER": 0.4, "ORG": 0.3, "LOC": 0.3}, (0.0,))


def test_bad_input():
    src = synthetic_source(n=100)
    with pytest.raises(DivergenceError, match="empty"):
        dl.fit_dial(from_lists([], [], lang="aa", label_set=WIKIANN), TARGET)
    with pytest.raises(DivergenceError, match="no entities"):
        dl.fit_dial(from_lists([["a"]], [["O"]], lang="aa", label_set=WIKIANN), TARGET)
    with pytest.raises(DivergenceError, match="MISC"):
        dl.fit_dial(src, {"PER": 0.5, "MISC": 0.5})
    with pytest.raises(DivergenceError, match="at least one entity"):
        dl.fit_dial(src, {"PER": 0.0})
    conll_target = from_lists([["a"]], [["B-MISC"]], lang="bb", label_set=CONLL)
    with pytest.raises(DivergenceError, match="map them"):
        dl.fit_dial(src, conll_target)
    with pytest.raises(DivergenceError, match="tol"):
        dl.fit_dial(src, TARGET, tol=0)
    with pytest.raises(DivergenceError, match="corner"):
        dl.fit_dial(src, TARGET, corner="DATE")
    with pytest.raises(DivergenceError, match="on_unreachable"):
        dl.run_dial(src, TARGET, (0.1,), on_unreachable="ignore")


def test_write_dial_files_match_report(source, tmp_path):
    d, levels = dl.run_dial(source, TARGET, (0.0, 0.1, 0.9), on_unreachable="report")
    report = dl.write_dial(source, d, levels, tmp_path, source_name="aa", target_name="mix")
    assert (tmp_path / "dial.csv").is_file() and (tmp_path / "dial.csv.signature.json").is_file()
    assert list(report["status"]) == ["ok", "ok", "unreachable"]
    q = np.array([TARGET[t] for t in d.types])
    for row in report[report["status"] == "ok"].itertuples():
        back = read_conll(tmp_path / row.path, label_set=WIKIANN)
        assert len(back) == len(source) == row.n_sentences
        assert dl.type_mix(back) == {t: getattr(row, f"n_{t}") for t in d.types}
        mix = dl.type_mix(back)
        assert js_divergence([mix[t] for t in d.types], q) == pytest.approx(row.achieved_js, abs=1e-12)
        assert row.abs_error <= row.tol == TOL
    assert not (tmp_path / dl.level_dir_name(0.9)).exists()
    on_disk = pd.read_csv(tmp_path / "dial.csv")
    assert list(on_disk["target_js"]) == [0.0, 0.1, 0.9]


@pytest.mark.realdata
def test_real_dial_id_to_ms():
    from xner.data import load_split

    src, tgt = load_split("id", "train"), load_split("ms", "test")
    d, levels = dl.run_dial(src, tgt, LEVELS, seed=0)
    for lev in levels:
        assert abs(lev.achieved_js - lev.target_js) <= TOL
        assert len(lev.indices) == len(src)
