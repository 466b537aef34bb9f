"""Translate-test: the label flow target → translation → source tagger → projection back → gold score."""

from __future__ import annotations

import pytest

from xner.projection import translate as tr
from xner.projection.align import PrecomputedAligner, StringAligner
from xner.projection.project import ProjectionConfig
from xner.projection.translate import IdentityTranslator, UnsupportedPairError
from xner.projection.translate_test import (
    strip_unknown_marks,
    translate_sentences,
    translate_test,
    translator_from_spec,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))


# target (pretend Malay) sentences and their "Indonesian" translations, word order changed in the second
TARGET = [["Ali", "pergi", "ke", "Kuala", "Lumpur"], ["semalam", "Siti", "tiba"], ["tiada", "nama"]]
TRANSLATION = {
    "Ali pergi ke Kuala Lumpur": "Ali pergi ke Kuala Lumpur",
    "semalam Siti tiba": "Siti tiba kemarin",
    "tiada nama": "tidak ada nama",
}
GOLD = [["B-PER", "O", "O", "B-LOC", "I-LOC"], ["O", "B-PER", "O"], ["O", "O"]]


def fake_tagger(sentences):
    """Tags 'Ali'/'Siti' as persons and 'Kuala Lumpur' as a location, on the source-language side."""
    out = []
    for s in sentences:
        tags = ["O"] * len(s)
        for i, w in enumerate(s):
            if w in ("Ali", "Siti"):
                tags[i] = "B-PER"
            if w == "Kuala":
                tags[i] = "B-LOC"
            if w == "Lumpur" and i > 0 and s[i - 1] == "Kuala":
                tags[i] = "I-LOC"
        out.append(tags)
    return out


def test_strip_unknown_marks():
    assert strip_unknown_marks(["*Joko", "#kata", "@x", "*", "a*b", "5*"]) == ["Joko", "kata", "x", "a*b", "5*"]
    assert strip_unknown_marks(["इमरान", "\u200c", "खान", "\u200d\u200c", "मे\u200cं"]) == ["इमरान", "खान", "मे\u200cं"]


def test_translate_sentences_strips_marks_and_refuses_empty():
    t = IdentityTranslator({"Joko datang": "*Joko datang"})
    assert translate_sentences([["Joko", "datang"]], t, tgt_lang="ms", src_lang="id") == [["Joko", "datang"]]
    with pytest.raises(ValueError, match="sentence 0 is empty"):
        translate_sentences([[]], t, tgt_lang="ms", src_lang="id")


def test_labels_flow_back_through_the_alignment():
    # the translation's words are aligned to the target's by hand: the tags must land on the aligned words
    links = [
        frozenset({(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)}),
        frozenset({(0, 1), (1, 2), (2, 0)}),  # Siti→1, tiba→2, kemarin→0
        frozenset({(2, 1)}),
    ]
    res = translate_test(
        TARGET,
        IdentityTranslator(TRANSLATION),
        fake_tagger,
        {"hand": PrecomputedAligner(links)},
        [ProjectionConfig(method="heuristic"), ProjectionConfig(method="ngram", solver="greedy")],
        src_lang="id",
        tgt_lang="ms",
        gold=GOLD,
    )
    assert res.translations[1] == ["Siti", "tiba", "kemarin"]
    assert res.source_tags[1] == ["B-PER", "O", "O"]
    for run in res.runs:
        assert run.tags == GOLD, run.method
        assert run.f1 == 1.0
    assert [r["method"] for r in res.rows()] == ["heuristic", "ngram-greedy"]


def test_a_wrong_alignment_gives_wrong_tags_and_a_lower_score():
    links = [frozenset({(0, 1), (3, 3), (4, 4)}), frozenset({(0, 0)}), frozenset()]  # Ali → 'pergi'; Siti → 0
    res = translate_test(
        TARGET,
        IdentityTranslator(TRANSLATION),
        fake_tagger,
        {"hand": PrecomputedAligner(links)},
        [ProjectionConfig(method="heuristic")],
        src_lang="id",
        tgt_lang="ms",
        gold=GOLD,
    )
    run = res.runs[0]
    assert run.tags[0] == ["O", "B-PER", "O", "B-LOC", "I-LOC"]
    assert run.tags[1] == ["B-PER", "O", "O"]
    assert run.f1 == pytest.approx(1 / 3)


def test_string_aligner_and_model_candidates_and_empty_translation():
    translations = dict(TRANSLATION, **{"tiada nama": "   "})
    t = IdentityTranslator(translations)
    res = translate_test(
        TARGET,
        t,
        fake_tagger,
        {"string": StringAligner()},
        [ProjectionConfig(method="model", solver="ilp")],
        src_lang="id",
        tgt_lang="ms",
        gold=GOLD,
        target_tagger=fake_tagger,
    )
    assert res.empty == [2]
    assert res.runs[0].tags == GOLD  # the empty translation gives all-O, which is its gold here
    assert res.rows()[0]["empty_translations"] == 1


def test_tagger_with_wrong_lengths_is_refused():
    with pytest.raises(ValueError, match="one tag per word"):
        translate_test(
            TARGET,
            IdentityTranslator(TRANSLATION),
            lambda s: [["O"] for _ in s],
            {},
            [],
            src_lang="id",
            tgt_lang="ms",
        )


def test_translator_spec():
    t, a, b = translator_from_spec("identity")
    assert t.name == "identity" and a is None and b is None
    with pytest.raises(ValueError, match="only apertium takes a mode"):
        translator_from_spec("nllb:eng-spa")


@pytest.mark.skipif(not tr.apertium_available(), reason="apertium is not installed")
def test_apertium_spec_names_the_languages():
    modes = tr.apertium_modes()
    if "zlm-ind" in modes:
        t, a, b = translator_from_spec("apertium:zlm-ind")
        assert (a, b) == ("ms", "id")
        out = translate_sentences([["Presiden", "Joko", "Widodo", "tiba"]], t, tgt_lang=a, src_lang=b)
        assert "Joko" in out[0] and not any("*" in w for w in out[0])
    if "pt-es" in modes:
        assert translator_from_spec("apertium:pt-es")[1:] == ("pt", "es")
    with pytest.raises(UnsupportedPairError, match="not installed"):
        translator_from_spec("apertium:xxx-yyy")
