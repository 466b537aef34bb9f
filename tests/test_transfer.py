"""Transfer settings: data assembly per setting, evaluation rows, the CRF and a neural model through one
runner, and bad input (missing projected data, label sets that differ, empty splits)."""

from __future__ import annotations

import pandas as pd
import pytest

from xner.data import from_lists, tag_names, write_conll
from xner.labels import CONLL, LabelError
from xner.modeling import TrainConfig, load_predictor
from xner.modeling.crf import CRFConfig
from xner.modeling.transfer import (
    SCHEMA,
    EvalSet,
    SettingError,
    TransferSpec,
    build_setting_data,
    evaluate_predictor,
    run_setting,
    spec_for,
)
from xner.projection.align import StringAligner
from xner.projection.compare import translate_test_tagger
from xner.projection.translate import IdentityTranslator, detokenize

SEEDS = {"id": 1, "ms": 2, "jv": 3}
SIZES = {"train": 30, "dev": 10, "test": 12}


@pytest.fixture
def fake_loader(toy_sentences):
    """Toy splits per language (different sentences per language and split)."""

    def load(lang, split, dataset="wikiann"):
        toks, tags = toy_sentences(SIZES[split], seed=SEEDS[lang] * 10 + list(SIZES).index(split))
        return from_lists(toks, tags, lang=lang, label_set="wikiann")

    return load


def test_spec_validation():
    assert TransferSpec("native", "ms").sources == ("ms",)
    assert spec_for("multi-source", "id+jv", "ms").sources == ("id", "jv")
    assert spec_for("native", "id", "ms").sources == ("ms",)
    for bad in [
        dict(setting="zero-shot", target="ms"),
        dict(setting="zero-shot", target="ms", sources=("ms",)),
        dict(setting="multi-source", target="ms", sources=("id",)),
        dict(setting="few-shot", target="ms", sources=("id",)),
        dict(setting="few-shot", target="ms", sources=("id",), k=0),
        dict(setting="translate-train", target="ms", sources=("id",)),
        dict(setting="zero-shot", target="ms", sources=("id",), k=5),
        dict(setting="teleport", target="ms", sources=("id",)),
        dict(setting="translate-test", target="ms"),
        dict(setting="translate-test", target="ms", sources=("ms",)),
        dict(setting="translate-test", target="ms", sources=("id", "jv")),
    ]:
        with pytest.raises(SettingError):
            TransferSpec(**bad)


def test_native_and_zero_shot_data(fake_loader):
    nat = build_setting_data(TransferSpec("native", "ms"), loader=fake_loader)
    assert len(nat.train) == SIZES["train"] and nat.train["langs"][0][0] == "ms"
    assert [e.lang for e in nat.evals] == ["ms"] and nat.dev["langs"][0][0] == "ms"
    zs = build_setting_data(spec_for("zero-shot", "id", "ms"), loader=fake_loader)
    assert zs.train["langs"][0][0] == "id" and zs.dev["langs"][0][0] == "id"  # no target labels at all
    assert [e.lang for e in zs.evals] == ["ms", "id"]


def test_multi_source_interleaves_and_caps_per_language(fake_loader):
    d = build_setting_data(
        spec_for("multi-source", "id+jv", "ms"),
        loader=fake_loader,
        max_train_samples=7,
        max_eval_samples=3,
        max_predict_samples=5,
    )
    langs = [x[0] for x in d.train["langs"]]
    assert langs == ["id", "jv"] * 7
    assert len(d.dev) == 6 and all(len(e.data) == 5 for e in d.evals)
    assert [e.lang for e in d.evals] == ["ms", "id", "jv"]


def test_few_shot_adds_k_seeded_target_sentences(fake_loader):
    spec = spec_for("few-shot", "id", "ms", k=5)
    a = build_setting_data(spec, loader=fake_loader, seed=0)
    b = build_setting_data(spec, loader=fake_loader, seed=0)
    c = build_setting_data(spec, loader=fake_loader, seed=1)
    langs = [x[0] for x in a.train["langs"]]
    assert langs.count("ms") == 5 and langs.count("id") == SIZES["train"]
    assert a.notes["few_shot_indices"] == b.notes["few_shot_indices"] != c.notes["few_shot_indices"]
    pool = fake_loader("ms", "train")["tokens"]
    assert [pool[i] for i in a.notes["few_shot_indices"]] == a.train["tokens"][-5:]
    with pytest.raises(SettingError, match="only"):
        build_setting_data(spec_for("few-shot", "id", "ms", k=999), loader=fake_loader)


def test_translate_train_reads_projected_conll(fake_loader, toy_sentences, tmp_path):
    toks, tags = toy_sentences(9, seed=42)
    write_conll(from_lists(toks, tags, lang="ms", label_set="wikiann"), tmp_path / "proj" / "train.tsv")
    d = build_setting_data(spec_for("translate-train", "id", "ms", projected=tmp_path / "proj"), loader=fake_loader)
    assert d.train["tokens"] == toks and d.train["langs"][0][0] == "ms"
    assert d.dev["langs"][0][0] == "id"
    with pytest.raises(FileNotFoundError, match="stage 03"):
        build_setting_data(spec_for("translate-train", "id", "ms", projected=tmp_path / "nope"), loader=fake_loader)


def test_label_sets_must_match_or_be_mapped_explicitly(fake_loader):
    def conll_source(lang, split, dataset="wikiann"):
        ds = fake_loader(lang, split, dataset)
        if lang == "id":
            ds = from_lists(ds["tokens"], tag_names(ds), lang=lang, label_set=CONLL)
        return ds

    with pytest.raises(LabelError, match="map_labels"):
        build_setting_data(spec_for("zero-shot", "id", "ms"), loader=conll_source)
    d = build_setting_data(spec_for("zero-shot", "id", "ms", type_map={"MISC": None}), loader=conll_source)
    assert d.train.features["ner_tags"].feature.names == list(d.label_set.labels)
    assert any("MISC" in n for n in d.notes["label_mapping"])


def test_empty_splits(fake_loader):
    def empty(which):
        def loader(lang, split, dataset="wikiann"):
            ds = fake_loader(lang, split, dataset)
            return ds.select([]) if (lang, split) == which else ds

        return loader

    with pytest.raises(Exception, match="empty"):
        build_setting_data(spec_for("zero-shot", "id", "ms"), loader=empty(("id", "train")))
    with pytest.raises(Exception, match="empty"):
        build_setting_data(spec_for("zero-shot", "id", "ms"), loader=empty(("ms", "test")))
    d = build_setting_data(spec_for("zero-shot", "id", "ms"), loader=empty(("id", "dev")))
    assert d.dev is None and d.notes["empty_dev"] == ["id"]  # documented: trained without early stopping


def test_evaluate_predictor_rows_follow_the_schema(fake_loader, tmp_path):
    test = fake_loader("ms", "test")
    gold = tag_names(test)
    rows = evaluate_predictor(
        lambda toks: gold,
        [EvalSet("ms", "wikiann", "test", test)],
        meta={"source": "id", "target": "ms", "setting": "zero-shot", "model": "oracle", "seed": 0},
        n_resamples=50,
        predictions_dir=tmp_path,
    )
    assert list(rows.columns[: len(SCHEMA)]) == SCHEMA
    r = rows.iloc[0]
    assert r.f1 == r.f1_low == r.f1_high == r.lenient_f1 == 1.0 and r.perturbation == "clean"
    assert (tmp_path / "wikiann-ms-test.tsv").is_file()
    rows = evaluate_predictor(
        lambda toks: [["O"] * len(t) for t in toks], [EvalSet("ms", "wikiann", "test", test)], meta={}, n_resamples=50
    )
    assert rows.iloc[0].f1 == 0.0


@pytest.mark.parametrize("setting, source", [("native", "ms"), ("zero-shot", "id"), ("multi-source", "id+jv")])
def test_crf_through_the_runner(fake_loader, setting, source, tmp_path):
    spec = spec_for(setting, source, "ms")
    res = run_setting(
        spec,
        "crf",
        train_config=TrainConfig(seed=3),
        crf_config=CRFConfig(max_iterations=20),
        output_dir=tmp_path,
        n_resamples=50,
        loader=fake_loader,
    )
    rows = res.rows
    assert list(rows.columns[: len(SCHEMA)]) == SCHEMA
    assert set(rows.eval_lang) == {"ms", *spec.sources}
    assert (rows.model == "crf").all() and (rows.seed == 3).all() and (rows.setting == setting).all()
    assert (rows.f1_low <= rows.f1).all() and (rows.f1 <= rows.f1_high).all()
    assert (tmp_path / "model" / "model.crfsuite").is_file()
    assert (tmp_path / "predictions" / "wikiann-ms-test.tsv").is_file()
    toks = [list(t) for t in fake_loader("ms", "test")["tokens"]]
    assert load_predictor(tmp_path).predict(toks) == res.predictor.predict(toks)


def test_translate_test_reuses_the_zero_shot_model_and_scores_through_the_tagger(fake_loader, tmp_path, monkeypatch):
    # identity translation + string alignment: translate-test must give exactly the zero-shot model's target F1;
    # the model is the zero-shot one (a cache hit: same training data), scored on the target test set only
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "xdg"))
    texts = {detokenize(t): detokenize(t) for t in fake_loader("ms", "test")["tokens"]}
    mt = IdentityTranslator(texts)
    common = dict(
        train_config=TrainConfig(seed=0),
        crf_config=CRFConfig(max_iterations=20),
        n_resamples=50,
        loader=fake_loader,
        model_cache=tmp_path / "cache",
    )
    zs = run_setting(spec_for("zero-shot", "id", "ms"), "crf", output_dir=tmp_path / "zs", **common)
    wrapped = []

    def through_translation(model):
        wrapped.append(model)
        return translate_test_tagger(model, mt, src_lang="id", tgt_lang="ms", aligner=StringAligner())

    tt = run_setting(
        spec_for("translate-test", "id", "ms"),
        "crf",
        output_dir=tmp_path / "tt",
        test_tagger=through_translation,
        **common,
    )
    assert tt.stats["model_reused"] and len(wrapped) == 1
    assert list(tt.rows.columns[: len(SCHEMA)]) == SCHEMA
    assert list(tt.rows.eval_lang) == ["ms"] and list(tt.rows.setting) == ["translate-test"]
    zs_target = zs.rows[zs.rows.eval_lang == "ms"].iloc[0]
    assert zs_target.f1 > 0 and tt.rows.iloc[0].f1 == zs_target.f1
    # the rows come from the wrapped tagger, not from the model itself
    nothing = run_setting(
        spec_for("translate-test", "id", "ms"),
        "crf",
        output_dir=tmp_path / "none",
        test_tagger=lambda model: lambda toks: [["O"] * len(t) for t in toks],
        **common,
    )
    assert nothing.rows.iloc[0].f1 == 0.0


def test_translate_test_needs_a_tagger_and_no_other_setting_takes_one(fake_loader):
    with pytest.raises(SettingError, match="translate-test needs test_tagger"):
        run_setting(spec_for("translate-test", "id", "ms"), "crf", loader=fake_loader)
    with pytest.raises(SettingError, match="no other setting"):
        run_setting(spec_for("zero-shot", "id", "ms"), "crf", loader=fake_loader, test_tagger=lambda m: m)


def test_neural_model_through_the_same_runner(fake_loader, tiny_checkpoint, tmp_path):
    enc = tiny_checkpoint(tmp_path / "enc")
    cfg = TrainConfig(
        epochs=2,
        batch_size=8,
        learning_rate=2e-3,
        max_length=48,
        progress=False,
        num_threads=1,
        max_train_samples=20,
        max_predict_samples=8,
    )
    res = run_setting(
        spec_for("zero-shot", "id", "ms"),
        str(enc),
        train_config=cfg,
        output_dir=tmp_path / "run",
        n_resamples=50,
        loader=fake_loader,
    )
    assert set(res.rows.eval_lang) == {"ms", "id"} and (res.rows.n_sentences == 8).all()
    assert res.rows.iloc[0].n_train_sentences == 20
    assert list(res.history.epoch) == [1, 2] and (res.history.setting == "zero-shot").all()
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    toks = [list(t) for t in fake_loader("ms", "test")["tokens"]]
    assert load_predictor(tmp_path / "run", num_threads=1).predict(toks) == res.predictor.predict(toks)
    with pytest.raises(OSError, match="neither"):
        load_predictor(tmp_path)
    assert isinstance(res.rows, pd.DataFrame)


@pytest.mark.realdata
def test_real_wikiann_crf_zero_shot_id_ms():
    res = run_setting(
        spec_for("zero-shot", "id", "ms"),
        "crf",
        train_config=TrainConfig(max_train_samples=300, max_eval_samples=50, max_predict_samples=200),
        crf_config=CRFConfig(max_iterations=30),
        n_resamples=100,
    )
    rows = res.rows.set_index("eval_lang")
    assert set(rows.index) == {"ms", "id"} and (rows.n_sentences == 200).all()
    assert 0 < rows.loc["ms", "f1"] < 1 and rows.loc["ms", "f1_low"] < rows.loc["ms", "f1_high"]
