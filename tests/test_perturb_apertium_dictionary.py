"""Code-switching dictionaries made by translating word lists through an installed Apertium pair."""

from __future__ import annotations

import pytest

from xner.data import from_lists
from xner.projection import translate as tr
from xner.robustness.perturb.dictionaries import (
    DictionaryError,
    DictionaryNotFound,
    apertium_dictionary,
    load_dictionary,
)
from xner.robustness.perturb.registry import PerturbationContext, build

needs_afr_nld = pytest.mark.skipif(
    not tr.apertium_available() or "afr-nld" not in tr.apertium_modes(),
    reason="needs apertium and apertium-afr-nld (scripts/system-deps.sh)",
)


@pytest.fixture
def no_freedict(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_DICTD_DIR", str(tmp_path / "no-dictd"))


@needs_afr_nld
def test_known_words_are_kept_unknown_and_identical_ones_dropped():
    d = apertium_dictionary(["aandag", "Aand", "xqzvw", "in", "aandag"], "af", "nl")
    assert d.translations("aandag") == ("aandacht",)
    assert d.translations("aand") == ("avond",)  # looked up case-folded
    assert d.translations("xqzvw") == ()  # unknown to Apertium
    assert d.translations("in") == ()  # identical in both languages
    assert d.skipped["unknown to apertium"] >= 1 and d.skipped["identical translation"] >= 1
    assert "Apertium afr-nld" in d.provenance


def test_missing_words_or_pair_is_a_clear_error(no_freedict):
    with pytest.raises(DictionaryError, match="needs the words"):
        load_dictionary("apertium", "af", "nl")
    with pytest.raises(DictionaryNotFound, match="no words were given"):
        load_dictionary("auto", "af", "nl")
    with pytest.raises(DictionaryNotFound, match="no Apertium dictionary"):
        apertium_dictionary(["word"], "af", "xx")


@needs_afr_nld
def test_code_switch_for_afrikaans_uses_apertium_when_no_freedict(no_freedict):
    toks = [["Hy", "het", "aandag", "gegee", "aan", "Kaapstad"], ["Die", "aand", "was", "koud"]]
    tags = [["O", "O", "O", "O", "O", "B-LOC"], ["O", "O", "O", "O"]]
    train = from_lists(toks, tags, lang="af", label_set="wikiann")
    ctx = PerturbationContext(lang="af", source_lang="nl", target_train=train)
    cs = build({"name": "code_switch", "rate": 1.0}, ctx, on_unavailable="raise")
    assert "Apertium afr-nld" in cs.params()["dictionary"]
    res = cs.apply_lists(toks, tags, seed=0, lang="af")
    assert res.tokens[0][2] == "aandacht" and res.tokens[1][1] == "avond"
    assert res.tokens[0][5] == "Kaapstad" and res.tags == tags  # entities and tags untouched
