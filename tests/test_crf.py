"""The feature-CRF baseline: features, training, the predictor interface, saving, and bad input."""

from __future__ import annotations

import pytest

from xner.data import from_lists, tag_names
from xner.labels import CONLL, LabelError
from xner.metrics import score
from xner.modeling import CRFConfig, CRFTagger, TrainingDataError, load_config, train_crf
from xner.modeling.crf import sentence_features, shape, short_shape


@pytest.mark.parametrize(
    "word, full, short",
    [
        ("Jakarta", "Xxxxxxx", "Xx"),
        ("U.S.A.", "X.X.X.", "X.X.X."),
        ("2019", "dddd", "d"),
        ("ibu-kota", "xxx-xxxx", "x-x"),
        ("کتاب", "aaaa", "a"),  # uncased script
        ("Ma\u0301laysia", "Xxmxxxxxx", "Xxmx"),  # combining accent
    ],
)
def test_shape(word, full, short):
    assert shape(word) == full
    assert short_shape(word) == short


def test_sentence_features_cover_word_affixes_shape_and_context():
    feats = sentence_features(["Ali", "tinggal", "di", "Medan"], window=2, max_affix=3)
    assert len(feats) == 4
    f0, f3 = feats[0], feats[3]
    assert f0["w"] == "ali" and f0["title"] and f0["BOS"] and f0["-1:pad"] and f0["+1:w"] == "tinggal"
    assert f0["+2:w"] == "di" and f0["p3"] == "ali" and f0["s2"] == "li"
    assert f3["EOS"] and f3["-1:w"] == "di" and f3["+1:pad"] and f3["-1|0"] == "di|medan"
    assert "p4" not in f0  # max_affix respected


def test_crf_learns_toy_data_and_has_predictor_interface(toy_dataset, tmp_path):
    train, test = toy_dataset(120, seed=1), toy_dataset(40, seed=2)
    crf = train_crf(train, config=CRFConfig(max_iterations=60))
    tokens = [list(t) for t in test["tokens"]]
    pred = crf.predict(tokens)
    assert [len(p) for p in pred] == [len(t) for t in tokens]
    assert score(tag_names(test), pred).f1 > 0.9  # a template language with name lists: easy for a CRF
    assert crf(tokens) == pred
    assert crf.predict([[], ["Ali"]])[0] == []
    crf.save(tmp_path / "crf")
    again = CRFTagger.load(tmp_path / "crf")
    assert again.predict(tokens) == pred
    assert again.labels == crf.labels and again.config == crf.config


def test_crf_same_data_same_model(toy_dataset):
    train, test = toy_dataset(60, seed=3), toy_dataset(20, seed=4)
    tokens = [list(t) for t in test["tokens"]]
    a = train_crf(train, config=CRFConfig(max_iterations=30)).predict(tokens)
    b = train_crf(train, config=CRFConfig(max_iterations=30)).predict(tokens)
    assert a == b


def test_crf_config_from_yaml(tmp_path):
    p = tmp_path / "crf.yaml"
    p.write_text("c1: '0.2'\nmax_iterations: 10\nwindow: 1\n", encoding="utf-8")
    cfg = load_config(p, cls=CRFConfig)
    assert cfg.c1 == 0.2 and cfg.max_iterations == 10 and cfg.window == 1


def test_crf_sample_cap_and_empty_sentences_counted(toy_dataset, toy_sentences):
    toks, tags = toy_sentences(20)
    ds = from_lists(toks + [[]], tags + [[]], lang="id", label_set="wikiann")
    crf = CRFTagger(CRFConfig(max_iterations=5)).fit([list(t) for t in ds["tokens"]], tag_names(ds))
    assert crf.skipped_empty == 1
    capped = train_crf(toy_dataset(50), config=CRFConfig(max_iterations=5, max_train_samples=10))
    assert capped.crf is not None


def test_crf_bad_input(toy_dataset, toy_sentences):
    with pytest.raises(TrainingDataError, match="empty"):
        train_crf(toy_dataset(5).select([]))
    with pytest.raises(TrainingDataError, match="tags"):
        CRFTagger().fit([["a", "b"]], [["O"]])
    toks, tags = toy_sentences(5)
    with pytest.raises(LabelError):
        train_crf(toy_dataset(5), from_lists(toks, tags, lang="id", label_set=CONLL))
    with pytest.raises(RuntimeError, match="not trained"):
        CRFTagger().predict([["a"]])
