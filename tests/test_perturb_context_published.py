"""P2 (context-word replacement) as Manafi & Krishnaswamy (2024) publish it: what it may and may not touch."""

from __future__ import annotations

import numpy as np
import pytest
import stopwordsiso

from xner.robustness.perturb import PerturbationContext, build
from xner.robustness.perturb.base import PerturbationUnavailable
from xner.robustness.perturb.context import PublishedContextReplacement, has_punctuation, stopwords_for

# Spanish source training: its O-words are the "seen context".
SOURCE = [
    (["el", "banco", "central", "de", "Madrid", "anunció", "x", "e.g.", "tasas"], ["O"] * 4 + ["B-LOC"] + ["O"] * 4),
    (["Juan", "visitó", "la", "ciudad", "antigua", "y", "banco"], ["B-PER", "O", "O", "O", "O", "O", "O"]),
]
# Portuguese test: shared non-stopwords "banco", "central", "antigua"/"cidade"...; stopwords "de", "a", "e", "o".
TEST = [
    (
        ["O", "banco", "central", "de", "Lisboa", "anunció", "x", "e.g.", "novas", "taxas"],
        ["O"] * 4 + ["B-LOC"] + ["O"] * 5,
    ),
    (["Banco", "antigua", "e", "a", "cidade", "velha", "tasas", "Central"], ["O"] * 7 + ["B-ORG"]),
]


def _vectors(words, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return {w: rng.normal(size=dim) for w in words}


def _p2(**kw):
    words = {t.lower() for toks, _ in SOURCE + TEST for t in toks}
    return PublishedContextReplacement([t for t, _ in SOURCE], [g for _, g in SOURCE], _vectors(words), **kw)


def _apply(p, lang="pt", seed=0):
    return p.apply_lists([t for t, _ in TEST], [g for _, g in TEST], seed, lang=lang)


def test_p2_touches_only_eligible_words_and_every_one_of_them():
    stop = stopwords_for("pt")
    res = _apply(_p2(source_lang="es"))
    source_o = {t for toks, tags in SOURCE for t, g in zip(toks, tags, strict=True) if g == "O"} - stopwords_for("es")
    changed = 0
    for (toks, tags), new in zip(TEST, res.tokens, strict=True):
        for tok, tag, out in zip(toks, tags, new, strict=True):
            eligible = (
                tag == "O"
                and tok.lower() not in stop
                and len(tok) > 1
                and not has_punctuation(tok)
                and tok.lower() in source_o
            )
            if eligible:
                assert out.lower() != tok.lower(), f"eligible {tok!r} left alone"
                changed += 1
            else:
                assert out == tok, f"{tok!r} ({tag}) is not eligible but became {out!r}"
    # banco ×2, central, anunció, antigua, tasas (Central is an entity; x is one character; e.g. has punctuation)
    assert changed == 6 == res.report.tokens_touched
    assert "de" in stop and "e" in stop  # the stopword filter is what kept these


def test_p2_replacement_is_nearest_unseen_test_word():
    words = {t.lower() for toks, _ in SOURCE + TEST for t in toks}
    vecs = _vectors(words)
    vecs["banco"] = vecs["taxas"] + 1e-3  # taxas: an unseen test word next to banco
    p = PublishedContextReplacement([t for t, _ in SOURCE], [g for _, g in SOURCE], vecs, source_lang="es")
    res = _apply(p)
    assert res.tokens[0][1] == "taxas" and res.tokens[1][0] == "Taxas"  # capitalisation copied
    # a candidate is never a source O-word, never a stopword, never the word itself
    assert set(p.alternates.values()) <= {"novas", "taxas", "cidade", "velha"}


def test_p2_defaults_and_stopword_coverage():
    p = _p2()
    assert p.rate == 1.0 and p.name == "context_replacement"
    with pytest.raises(PerturbationUnavailable, match="no stopword list for 'jv'"):
        stopwords_for("jv")
    res = _apply(_p2(), lang="jv")
    assert not res.report.applied and "jv" in res.report.reason
    assert _apply(_p2(stopwords={"de"}), lang="jv").report.applied
    assert stopwordsiso.has_lang("ms") and stopwordsiso.has_lang("af")


def test_registry_p2_needs_a_representation():
    from xner.data import from_lists

    src = from_lists([t for t, _ in SOURCE], [g for _, g in SOURCE], lang="es", label_set="wikiann")
    with pytest.raises(PerturbationUnavailable, match="evaluated encoder"):
        build("context_replacement", PerturbationContext(lang="pt", source_lang="es", source_train=src))
    words = {t.lower() for toks, _ in SOURCE + TEST for t in toks}
    p = build(
        "context_replacement",
        PerturbationContext(lang="pt", source_lang="es", source_train=src, vectors=_vectors(words)),
    )
    assert isinstance(p, PublishedContextReplacement) and p.source_lang == "es"
    assert build("context_band", PerturbationContext(lang="pt", source_train=src, target_train=src)).rate == 0.5


def test_has_punctuation():
    assert has_punctuation("e.g.") and has_punctuation("«casa»") and not has_punctuation("ação")


def test_p1_published_choices_case_sensitive_and_pool_from_test():
    from xner.robustness.perturb.entities import Entity, UnseenEntityReplacement

    seen = [Entity("LOC", ("Madrid",)), Entity("PER", ("juan",))]
    test_toks = [["Madrid", "e", "Juan", "y", "Porto"], ["Lisboa", "x"]]
    test_tags = [["B-LOC", "O", "B-PER", "O", "B-LOC"], ["B-PER", "O"]]
    p = UnseenEntityReplacement(seen, [], casefold=False, pool_from_test=True)
    res = p.apply_lists(test_toks, test_tags, 0)
    # case-sensitive: "Juan" is not the seen "juan"; Madrid (seen, LOC) → Porto, the test's only unseen LOC
    assert res.tokens[0] == ["Porto", "e", "Juan", "y", "Porto"] and res.tokens[1] == ["Lisboa", "x"]
    folded = UnseenEntityReplacement(seen, [Entity("PER", ("Ana",))], casefold=True).apply_lists(
        test_toks, test_tags, 0
    )
    assert folded.tokens[0][2] == "Ana"


@pytest.mark.realdata
def test_real_p2_with_e5_touches_no_stopword(real_data_dir):
    from xner.data import load_split, tag_names

    src, test = load_split("es", "train"), load_split("pt", "test").select(range(300))
    ctx = PerturbationContext(lang="pt", source_lang="es", source_train=src, encoder="e5-small")
    toks, tags = [list(t) for t in test["tokens"]], tag_names(test)
    res = build("context_replacement", ctx).apply_lists(toks, tags, 0, lang="pt")
    stop = stopwords_for("pt")
    changed = [a for s, p in zip(toks, res.tokens, strict=True) for a, b in zip(s, p, strict=True) if a != b]
    assert res.report.applied and len(changed) == res.report.tokens_touched > 10
    assert not any(w.lower() in stop or len(w) == 1 or has_punctuation(w) for w in changed)
