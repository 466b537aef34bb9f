"""Translators: tokenization, the disk cache, clear errors, and Apertium when it is installed.

CI installs the Debian packages ``apertium`` and ``apertium-eng-spa``; without them the Apertium tests skip.
"""

from __future__ import annotations

import pytest

from xner.projection import translate as tr
from xner.projection.translate import (
    ApertiumTranslator,
    IdentityTranslator,
    NLLBTranslator,
    TranslationCache,
    Translator,
    TranslatorNotInstalledError,
    UnsupportedPairError,
    detokenize,
    get_translator,
    tokenize,
)

needs_apertium = pytest.mark.skipif(
    not tr.apertium_available(), reason="apertium is not installed (apt-get install apertium apertium-eng-spa)"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))


def test_tokenize_and_detokenize():
    assert tokenize("Mr Prodi (Italy) said: 1.000,5 euros, l'Europe!") == [
        "Mr",
        "Prodi",
        "(",
        "Italy",
        ")",
        "said",
        ":",
        "1.000,5",
        "euros",
        ",",
        "l'Europe",
        "!",
    ]
    assert detokenize(["¿", "Qué", "dijo", "(", "ayer", ")", "?"]) == "¿Qué dijo (ayer)?"
    assert tokenize("R.H. Saunders (U.S.A.) St. Louis") == ["R.H.", "Saunders", "(", "U.S.A.", ")", "St", ".", "Louis"]
    # combining marks belong to their word: Devanagari vowel signs and viramas, Arabic harakat (Apertium's
    # untranslated Hindi words were split into letters and signs before)
    assert tokenize("टैपी ने (जम्मू और कश्मीर)।") == ["टैपी", "ने", "(", "जम्मू", "और", "कश्मीर", ")", "।"]
    assert tokenize("مُحمّد نے کہا۔") == ["مُحمّد", "نے", "کہا", "۔"]
    assert tokenize("cafe\u0301 noir") == ["cafe\u0301", "noir"]  # a decomposed é stays in its word


class CountingTranslator(Translator):
    """Upper-cases text and counts how often it is really called."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def check_pair(self, src: str, tgt: str) -> None:
        if tgt == "xx":
            raise UnsupportedPairError("no xx")

    def _translate(self, texts, src, tgt, markup):
        self.calls += 1
        return [t.upper() for t in texts]


def test_cache_is_keyed_by_translator_pair_and_text(tmp_path):
    t = CountingTranslator()
    assert t.translate(["a b", "c", "a b"], "en", "es") == ["A B", "C", "A B"]
    assert t.calls == 1
    assert t.translate(["c", "a b"], "en", "es") == ["C", "A B"]
    assert t.calls == 1  # all from the cache
    t.translate(["c"], "en", "fr")
    assert t.calls == 2  # another pair: another key
    cache = TranslationCache()
    assert cache.get("counting", "en-es", ["a b", "zzz"]) == {"a b": "A B"}
    with pytest.raises(UnsupportedPairError):
        t.translate(["c"], "en", "xx")
    with pytest.raises(ValueError, match="text 1 is empty"):
        t.translate(["a", "  "], "en", "es")


def test_identity_translator_refuses_unknown_text():
    ident = IdentityTranslator(targets={"hello": "hola"})
    assert ident.translate(["hello"], "en", "es") == ["hola"]
    with pytest.raises(KeyError, match="no translation"):
        ident.translate(["bye"], "en", "es")


def test_apertium_missing_says_what_to_install(monkeypatch):
    tr.apertium_modes.cache_clear()
    monkeypatch.setattr(tr.shutil, "which", lambda name: None)
    try:
        with pytest.raises(TranslatorNotInstalledError, match="apt-get install apertium apertium-eng-spa"):
            ApertiumTranslator().translate(["hello"], "en", "es")
    finally:
        tr.apertium_modes.cache_clear()


def test_unknown_language_codes_are_clear_errors():
    with pytest.raises(UnsupportedPairError, match="no Apertium language code"):
        ApertiumTranslator().mode("en", "xx")
    with pytest.raises(UnsupportedPairError, match="no NLLB-200 code"):
        NLLBTranslator().translate(["hello"], "en", "xx")
    with pytest.raises(ValueError, match="unknown translator"):
        get_translator("google")


def test_nllb_without_the_hub_says_so(tmp_path):
    pytest.importorskip("transformers")
    nllb = NLLBTranslator(model=str(tmp_path / "no-such-model"))
    with pytest.raises(OSError, match="needs the Hugging Face hub"):
        nllb.translate(["hello"], "en", "es")


@needs_apertium
def test_apertium_translates_and_keeps_markup():
    ap = ApertiumTranslator()
    out = ap.translate(["The Commission and Mr Prodi .", "Good morning"], "en", "es")
    assert len(out) == 2 and "Comisión" in out[0] and "Prodi" in out[0]
    marked = ap.translate(["The <b>European Commission</b> met Mr <b>Prodi</b> ."], "en", "es", markup=True)[0]
    assert marked.count("<b>") == 2 and marked.count("</b>") == 2
    assert ap.translate_tokens([["The", "Commission", "."]], "en", "es")[0][-1] == "."


@needs_apertium
def test_apertium_lacking_pair_says_which_package():
    with pytest.raises(UnsupportedPairError, match="apertium-eng-fin or apertium-fin-eng"):
        ApertiumTranslator().translate(["hello"], "en", "fi")
