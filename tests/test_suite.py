"""The adversarial suite and domain shift: table schema, paired drops, not-applied rows, determinism."""

from __future__ import annotations

import json
import math
import random
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xner.data import from_lists, tag_names
from xner.metrics import score
from xner.robustness.domain import domain_eval_set, domain_eval_sets, run_domain_shift, unpaired_drop
from xner.robustness.perturb import Entity, PerturbationContext, PerturbationWarning, UnseenEntityReplacement
from xner.robustness.perturb.base import iob2_span_tags
from xner.robustness.suite import (
    COLUMNS,
    SCHEMA,
    ModelSpec,
    SuiteError,
    degradation_matrix,
    plot_degradation_heatmap,
    run_suite,
    side_by_side,
    write_suite,
)

TRAIN = [
    (["Maria", "mora", "em", "Lisboa"], ["B-PER", "O", "O", "B-LOC"]),
    (["Banco", "do", "Brasil", "abriu", "em", "Porto"], ["B-ORG", "I-ORG", "I-ORG", "O", "O", "B-LOC"]),
    (["João", "Silva", "visitou", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"]),
]
POOL = [
    (["Kwame", "Mensah", "viaja", "para", "Accra"], ["B-PER", "I-PER", "O", "O", "B-LOC"]),
    (["Grupo", "Tanaka", "abriu", "loja", "em", "Nairobi"], ["B-ORG", "I-ORG", "O", "O", "O", "B-LOC"]),
]
TEST = TRAIN * 4 + [(["Ana", "viu", "Lisboa", "ontem"], ["B-PER", "O", "B-LOC", "O"])] * 4


def ds(pairs, lang="pt"):
    return from_lists([t for t, _ in pairs], [g for _, g in pairs], lang=lang, label_set="wikiann")


class Gazetteer:
    """A memorising tagger: each word gets its most frequent training tag (orphan I- repaired to B-)."""

    def __init__(self, pairs):
        counts: dict[str, dict[str, int]] = {}
        for toks, tags in pairs:
            for t, g in zip(toks, tags, strict=True):
                counts.setdefault(t, {}).setdefault(g, 0)
                counts[t][g] += 1
        self.best = {t: max(c, key=c.get) for t, c in counts.items()}

    def predict(self, tokens):
        out = []
        for sent in tokens:
            tags, prev = [], "O"
            for w in sent:
                g = self.best.get(w, "O")
                if g.startswith("I-") and prev[2:] != g[2:]:
                    g = "B-" + g[2:]
                tags.append(g)
                prev = g
            out.append(tags)
        return out


def _context():
    return PerturbationContext(
        lang="pt", source_lang="es", source_train=ds(TRAIN), target_train=ds(POOL), name_languages=["ru", "fi"]
    )


MODELS = {
    "native": ModelSpec(Gazetteer(TRAIN + POOL), source="pt", target="pt", setting="native", model="gazetteer"),
    "zero-shot": ModelSpec(
        Gazetteer(TRAIN[:2]), source="es", target="pt", setting="zero-shot", model="gazetteer", seed=3
    ),
}


def _suite(perts=("mask", "unseen_entities", "foreign_per", "code_switch"), seeds=(0, 1)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerturbationWarning)
        return run_suite(
            MODELS,
            {"pt-test": ds(TEST)},
            list(perts),
            contexts=_context(),
            seeds=seeds,
            n_resamples=200,
            bootstrap_seed=1,
        )


def test_suite_table_schema_and_scores():
    res = _suite(perts=("mask", "unseen_entities", "foreign_per", {"name": "code_switch", "dictionary": None}))
    t = res.table
    assert list(t.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert list(COLUMNS[: len(SCHEMA)]) == list(SCHEMA)
    assert len(t) == 2 * (1 + 4 * 2)
    clean = t[t.perturbation == "clean"].set_index("setting")
    gold = [g for _, g in TEST]
    for name, spec in MODELS.items():
        pred = spec.predictor.predict([w for w, _ in TEST])
        assert clean.loc[name, "f1"] == pytest.approx(score(gold, pred).f1)
        assert clean.loc[name, "lenient_f1"] == pytest.approx(score(gold, pred, mode="lenient").f1)
        assert clean.loc[name, "f1_low"] <= clean.loc[name, "f1"] <= clean.loc[name, "f1_high"]
    row = t[(t.setting == "zero-shot") & (t.perturbation == "clean")].iloc[0]
    assert (row.source, row.target, row.model, row.seed, row.eval_lang, row.eval_split) == (
        "es",
        "pt",
        "gazetteer",
        3,
        "pt",
        "test",
    )
    applied = t[(t.perturbation != "clean") & t.applied.astype(bool)]
    assert set(applied.perturbation) == {"mask", "unseen_entities", "foreign_per"}
    for _, r in applied.iterrows():
        f1_clean = clean.loc[r.setting, "f1"]
        assert r["drop"] == pytest.approx(f1_clean - r.f1)  # drop = clean F1 − perturbed F1
        assert 0.0 <= r.p_value <= 1.0 and r.drop_low <= r.drop_high
        assert r.n_sentences == len(TEST)
    # the unseen-entity run replaced entities that change length: scored against its own gold
    ue = applied[applied.perturbation == "unseen_entities"]
    assert (ue.entities_replaced > 0).all()
    # the native gazetteer knows the (target-pool) replacements, the transfer one does not
    assert (ue[ue.setting == "native"]["drop"] == 0).all() and (ue[ue.setting == "zero-shot"]["drop"] > 0.5).all()
    assert (ue[ue.setting == "zero-shot"].p_value < 0.05).all()
    fp = applied[applied.perturbation == "foreign_per"].iloc[0]
    assert set(json.loads(fp.locales)) <= {"ru_RU", "fi_FI"} and json.loads(fp.entities_replaced_by_type) == {"PER": 12}


def test_not_applicable_perturbations_are_recorded_not_scored():
    res = _suite(perts=({"name": "code_switch", "dictionary": None}, "strip_diacritics"), seeds=(0,))
    t = res.table
    na = t[t.perturbation == "code_switch"]
    assert len(na) == 2 and not na.applied.astype(bool).any()
    assert na.f1.isna().all() and na["drop"].isna().all() and na.p_value.isna().all()
    assert na.reason.str.contains("dictionary").all()
    sd = t[t.perturbation == "strip_diacritics"]  # "João" has a diacritic: applied
    assert sd.applied.astype(bool).all()


def test_suite_is_deterministic():
    a, b = _suite(), _suite()
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.records().equals(b.records())


def test_oracle_has_no_drop_even_when_gold_changes_length():
    """Pairing by sentence with each side's own gold: a perfect tagger loses nothing."""
    pert = UnseenEntityReplacement([Entity("LOC", ("Lisboa",))], [Entity("LOC", ("Rio", "de", "Janeiro"))])
    test = ds(TEST)
    pds, rep = pert.apply(test, seed=0)
    assert rep.tokens_inserted > 0
    lookup = {
        tuple(t): g
        for t, g in zip(list(test["tokens"]) + list(pds["tokens"]), tag_names(test) + tag_names(pds), strict=True)
    }
    oracle = ModelSpec(lambda toks: [lookup[tuple(t)] for t in toks], setting="oracle")
    t = run_suite({"oracle": oracle}, {"pt": test}, [pert], n_resamples=100).table
    row = t[t.perturbation == "unseen_entities"].iloc[0]
    assert row.f1 == 1.0 and row["drop"] == 0.0 and row.p_value == 1.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.booleans()), min_size=2, max_size=12), st.integers(0, 1000))
def test_paired_drop_matches_difference_of_scores(spec, seed):
    rnd = random.Random(seed)
    pairs = []
    for n, seen in spec:
        words = ["Lisboa"] if seen else ["Kwame"] * n
        pairs.append((["em"] + words + ["hoje"], ["O"] + iob2_span_tags("LOC" if seen else "PER", len(words)) + ["O"]))
    tags_all = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    noisy = ModelSpec(lambda toks: [[rnd.choice(tags_all) if rnd.random() < 0.3 else "O" for _ in t] for t in toks])
    pert = UnseenEntityReplacement([Entity("LOC", ("Lisboa",))], [Entity("LOC", ("Rio", "de", "Janeiro"))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerturbationWarning)
        try:
            t = run_suite({"m": noisy}, {"pt": ds(pairs)}, [pert], n_resamples=50).table
        except ValueError as exc:  # a random predictor on a tiny set can leave nothing to score: refused loudly
            assert "no entities" in str(exc)
            return
    clean, pr = t.iloc[0], t.iloc[1]
    if pr.applied:
        assert pr["drop"] == pytest.approx(clean.f1 - pr.f1)


def test_bad_predictor_is_refused():
    with pytest.raises(SuiteError, match="sentence 0 has 4 words but 1 predicted tags"):
        run_suite({"bad": lambda toks: [["O"] for _ in toks]}, {"pt": ds(TEST)}, ["mask"])
    with pytest.raises(SuiteError, match="returned 0 sentences"):
        run_suite({"bad": lambda toks: []}, {"pt": ds(TEST)}, ["mask"])
    with pytest.raises(SuiteError, match="appear twice"):
        run_suite(MODELS, {"pt": ds(TEST)}, ["mask", "mask"])


def test_write_suite_and_comparisons(tmp_path):
    res = _suite()
    paths = write_suite(res, tmp_path, stem="adv")
    names = {p.name for p in paths}
    assert {"adv.csv", "adv_replacements.csv", "adv_reports.json"} <= names
    assert (tmp_path / "adv.csv.signature.json").is_file()
    sig = json.loads((tmp_path / "adv.csv.signature.json").read_text())
    assert sig["stage"] == "05_adversarial" and "foreign_per" in sig["perturbations"]
    back = pd.read_csv(tmp_path / "adv.csv")
    assert len(back) == len(res.table) and "signature" in back.columns
    reps = json.loads((tmp_path / "adv_reports.json").read_text())
    assert {r["perturbation"] for r in reps} == {"mask", "unseen_entities", "foreign_per", "code_switch"}
    sbs = side_by_side(res.table)
    assert {"f1_native", "f1_zero-shot", "drop_native", "drop_zero-shot", "drop_gap"} <= set(sbs.columns)
    r = sbs[sbs.perturbation == "unseen_entities"].iloc[0]
    assert r.drop_gap == pytest.approx(r["drop_zero-shot"] - r["drop_native"])
    mat = degradation_matrix(res.table)
    assert list(mat.columns) == ["native", "zero-shot"] and "clean" not in mat.index
    from xner.figures import save_figure

    out = save_figure(plot_degradation_heatmap(res.table), tmp_path / "heat")
    assert all(p.stat().st_size > 0 for p in out)
    again = save_figure(plot_degradation_heatmap(res.table), tmp_path / "heat2")
    assert out[1].read_bytes() == again[1].read_bytes()


# --------------------------------------------------------------------------------------- domain shift


def test_unpaired_drop():
    gold = [g for _, g in TEST]
    d, lo, hi, p = unpaired_drop(gold, gold, gold, gold, n_resamples=200)
    assert (d, lo, hi, p) == (0.0, 0.0, 0.0, 1.0)
    bad = [["O"] * len(g) for g in gold]
    bad[0] = gold[0]
    d, lo, hi, p = unpaired_drop(gold, gold, gold, bad, n_resamples=200)
    assert d > 0.5 and 0 < lo <= d <= hi and p < 0.05


def test_domain_shift_maps_labels_and_reports_dropped_misc():
    conll = from_lists(
        [["A", "UE", "e", "o", "Euro", "em", "Lisboa"], ["Maria", "fala", "português"]],
        [["O", "B-ORG", "O", "O", "B-MISC", "O", "B-LOC"], ["B-PER", "O", "B-MISC"]],
        lang="pt",
        label_set="conll",
    )
    ev = domain_eval_set("pt", "europarl", ds=conll)
    assert ev.extra["entities_dropped"] == 2 and json.loads(ev.extra["dropped_by_type"]) == {"MISC": 2}
    assert ev.extra["entities_kept"] == 3 and "MISC" in ev.extra["label_mapping"]
    assert tag_names(ev.dataset)[1] == ["B-PER", "O", "O"]
    t = run_domain_shift(MODELS, {"pt": ds(TEST)}, {"europarl-pt": ev}, n_resamples=100)
    assert len(t) == 4 and set(t.perturbation) == {"clean", "domain_shift"}
    dom = t[t.perturbation == "domain_shift"]
    assert (dom.eval_dataset == "europarl").all() and (dom.entities_dropped == 2).all()
    ref = t[t.perturbation == "clean"].set_index("setting")
    for _, r in dom.iterrows():
        assert r["drop"] == pytest.approx(ref.loc[r.setting, "f1"] - r.f1)
    with pytest.raises(SuiteError, match="no in-domain reference"):
        run_domain_shift(MODELS, {"es": ds(TEST, "es")}, {"europarl-pt": ev})


@pytest.mark.realdata
def test_real_domain_sets(real_data_dir):
    sets = domain_eval_sets(["es", "nl"])
    assert set(sets) == {"europarl-es", "conll2002-es", "conll2002-nl"}
    for ev in sets.values():
        assert ev.extra["entities_dropped"] > 0  # MISC exists in both corpora and is dropped, counted
        assert "B-MISC" not in {t for s in tag_names(ev.dataset) for t in s}
    assert len(sets["europarl-es"].dataset) == 799
    assert not math.isnan(np.mean([len(s) for s in sets["conll2002-nl"].dataset["tokens"]]))
