"""Projection on the real Europarl en→es parallel gold (skipped without XNER_DATA_DIR).

Floors, not hard-coded results: eflomal fitted on the 799 sentences alone with the heuristic reaches about
0.83 strict F1 (eflomal cannot be seeded, runs vary by about ±0.01); the floor leaves room for that.
"""

from __future__ import annotations

import importlib.util

import pytest

from xner.metrics import score
from xner.projection.align import EflomalAligner
from xner.projection.evaluate import load_europarl
from xner.projection.project import ProjectionConfig, project_corpus
from xner.projection.translate import apertium_available

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def europarl():
    return load_europarl("en", "es")


@pytest.fixture(scope="module")
def eflomal_links(europarl):
    if importlib.util.find_spec("eflomal") is None:
        pytest.skip("eflomal is not installed (pip install eflomal)")
    return EflomalAligner().align(europarl.src_tokens, europarl.tgt_tokens)


def test_europarl_is_parallel(europarl):
    assert len(europarl) == 799
    assert all(len(s) and len(t) for s, t in zip(europarl.src_tokens, europarl.tgt_tokens, strict=True))


def test_heuristic_with_eflomal_reaches_a_floor(europarl, eflomal_links):
    res = project_corpus(
        europarl.src_tokens, europarl.src_tags, europarl.tgt_tokens, ProjectionConfig(), alignments=eflomal_links
    )
    s = score(europarl.tgt_tags, res.tags)
    assert s.f1 > 0.78, s
    rep = res.report
    assert rep.n_source_entities == sum(t.startswith("B-") for sent in europarl.src_tags for t in sent)
    assert rep.projected + rep.split + rep.dropped == rep.n_source_entities


def test_matching_on_europarl_exact_never_below_greedy(europarl, eflomal_links):
    sub = slice(0, 200)
    res = project_corpus(
        europarl.src_tokens[sub],
        europarl.src_tags[sub],
        europarl.tgt_tokens[sub],
        ProjectionConfig(method="ngram", solver="greedy"),
        alignments=eflomal_links[sub],
    )
    assert res.matching is not None and res.matching.n_problems > 50
    assert res.matching.objective_ilp >= res.matching.objective_greedy - 1e-9
    assert 0.0 <= res.matching.gap < 0.05
    assert score(europarl.tgt_tags[sub], res.tags).f1 > 0.7


@pytest.mark.skipif(
    not apertium_available(), reason="apertium is not installed (apt-get install apertium apertium-eng-spa)"
)
def test_translate_train_wikiann_en_es_with_apertium(tmp_path, monkeypatch):
    from xner.data import load_split
    from xner.projection.align import StringAligner
    from xner.projection.translate import ApertiumTranslator
    from xner.projection.translate_train import translate_train, write_translate_train

    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_split("en", "train", dataset="wikiann").select(range(40))
    res = translate_train(
        ds, ApertiumTranslator(), src_lang="en", tgt_lang="es", config=ProjectionConfig(method="mark")
    )
    rep = res.report
    assert len(res.dataset) + len(res.empty_translations) == 40
    assert rep.projected + rep.split + rep.dropped == rep.n_source_entities > 30
    assert rep.projected > 0.8 * rep.n_source_entities
    paths = write_translate_train(res, tmp_path / "out")
    assert paths["conll"].is_file() and paths["report"].is_file()
    # the alignment route on the same data (string similarity keeps names across en/es)
    res2 = translate_train(
        ds, ApertiumTranslator(), src_lang="en", tgt_lang="es", aligner=StringAligner(min_similarity=0.7)
    )
    assert res2.report.n_source_entities == rep.n_source_entities
