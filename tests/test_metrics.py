"""Span scores: equality with seqeval (strict IOB2 and its default conlleval mode), bootstrap behaviour."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from xner.metrics import ScoringError, bootstrap_ci, get_entities, paired_bootstrap, score

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
sentence = st.lists(st.sampled_from(TAGS), min_size=1, max_size=12)


@pytest.mark.parametrize(
    "tags, entities",
    [
        (["B-PER", "I-PER", "O"], [("PER", 0, 2)]),
        (["I-PER", "I-PER", "B-LOC"], [("LOC", 2, 3)]),  # orphan I- is no entity in strict mode
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1)]),
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
        ([], []),
    ],
)
def test_strict_entities(tags, entities):
    assert get_entities(tags) == entities


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(sentence, st.randoms()), min_size=1, max_size=8))
def test_equals_seqeval_on_random_tags(items):
    gold, pred = [], []
    for g, rnd in items:
        gold.append(g)
        pred.append([t if rnd.random() < 0.6 else rnd.choice(TAGS) for t in g])
    if not any(get_entities(g) for g in gold):
        with pytest.raises(ScoringError):
            score(gold, pred)
        return
    s = score(gold, pred)
    assert s.f1 == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
    assert s.precision == pytest.approx(precision_score(gold, pred, mode="strict", scheme=IOB2))
    assert s.recall == pytest.approx(recall_score(gold, pred, mode="strict", scheme=IOB2))
    assert score(gold, pred, mode="lenient").f1 == pytest.approx(f1_score(gold, pred))


def test_per_type_equals_seqeval():
    rnd = random.Random(3)
    gold = [[rnd.choice(TAGS) for _ in range(10)] for _ in range(200)]
    pred = [[t if rnd.random() < 0.7 else rnd.choice(TAGS) for t in g] for g in gold]
    ref = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True)
    s = score(gold, pred)
    for typ, sc in s.per_type.items():
        assert sc.f1 == pytest.approx(ref[typ]["f1-score"]) and sc.n_gold == ref[typ]["support"]


def test_refuses_gold_without_entities():
    with pytest.raises(ScoringError, match="no entities"):
        score([["O", "O"]], [["B-PER", "O"]])
    with pytest.raises(ScoringError, match="no entities"):
        bootstrap_ci([["O"]], [["O"]])


def test_length_mismatch():
    with pytest.raises(ScoringError, match="sentence 0"):
        score([["B-PER", "O"]], [["B-PER"]])
    with pytest.raises(ScoringError, match="2 sentences"):
        score([["B-PER"], ["O"]], [["B-PER"]])


def _noisy(n: int, seed: int, acc: float = 0.8):
    rnd = random.Random(seed)
    gold = [[rnd.choice(TAGS) for _ in range(8)] for _ in range(n)]
    pred = [[t if rnd.random() < acc else rnd.choice(TAGS) for t in g] for g in gold]
    return gold, pred


def test_bootstrap_ci_brackets_point_and_is_seeded():
    gold, pred = _noisy(300, 0)
    ci = bootstrap_ci(gold, pred, n_resamples=500, seed=1)
    assert ci.low < ci.point < ci.high
    assert ci.point == pytest.approx(score(gold, pred).f1)
    assert bootstrap_ci(gold, pred, n_resamples=500, seed=1) == ci
    assert bootstrap_ci(gold, pred, n_resamples=500, seed=2) != ci
    wide = bootstrap_ci(gold[:30], pred[:30], n_resamples=500, seed=1)
    assert wide.high - wide.low > ci.high - ci.low  # fewer sentences, wider interval


def test_paired_bootstrap():
    gold, good = _noisy(300, 0, acc=0.9)
    _, bad = _noisy(300, 0, acc=0.5)
    res = paired_bootstrap(gold, good, bad, n_resamples=500, seed=0)
    assert res.delta == pytest.approx(score(gold, good).f1 - score(gold, bad).f1)
    assert res.low > 0 and res.p_value < 0.01
    same = paired_bootstrap(gold, good, good, n_resamples=200)
    assert same.delta == 0 and same.p_value == 1.0


@pytest.mark.realdata
def test_real_files_equal_seqeval(real_data_dir):
    from xner.data import load_split, tag_names

    rnd = np.random.default_rng(0)
    for lang in ("en", "ar", "yo"):
        gold = tag_names(load_split(lang, "test"))
        # a plausible system: gold with 15% of tags replaced at random
        pred = [[t if rnd.random() > 0.15 else TAGS[rnd.integers(len(TAGS))] for t in g] for g in gold]
        assert score(gold, pred).f1 == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2))
        assert score(gold, pred, "lenient").f1 == pytest.approx(f1_score(gold, pred))


# ------------------------------------------------------------------ issue 17: bad input is never silent


@pytest.mark.parametrize("bad", [None, float("nan"), 3, b"B-PER"])
def test_non_string_tags_are_refused_with_their_position(bad):
    """Item 8: None/NaN/int tags give a ScoringError naming sentence and token, not an AttributeError."""
    gold = [["B-PER", "O"], ["O", bad]]
    with pytest.raises(ScoringError, match=r"gold sentence 1, token 1: tag .* not a string"):
        score(gold, [["B-PER", "O"], ["O", "O"]])
    with pytest.raises(ScoringError, match=r"predicted sentence 1, token 1"):
        score([["B-PER", "O"], ["O", "O"]], gold)


def test_a_flat_tag_list_is_not_a_corpus():
    with pytest.raises(ScoringError, match="gold sentence 0 is str 'B-PER', not a list of tags"):
        score(["B-PER", "O"], ["B-PER", "O"])


@pytest.mark.parametrize("confidence", [1.5, 0.0, 1.0, -0.2, float("nan")])
def test_bootstrap_refuses_a_confidence_outside_0_1(confidence):
    """Item 6: bootstrap_ci(confidence=1.5) is an error, not NaN bounds."""
    gold = [["B-PER", "O"], ["O", "B-LOC"], ["B-ORG"]]
    with pytest.raises(ScoringError, match="confidence must be between 0 and 1"):
        bootstrap_ci(gold, gold, confidence=confidence)
    with pytest.raises(ScoringError, match="confidence must be between 0 and 1"):
        paired_bootstrap(gold, gold, gold, confidence=confidence)
    with pytest.raises(ScoringError, match="n_resamples must be a positive whole number"):
        bootstrap_ci(gold, gold, n_resamples=0)
