"""A model is trained once per training data, encoder and settings, and shared by every run that trains on it."""

from __future__ import annotations

import pytest

from xner.data import from_lists
from xner.modeling import CRFConfig, TrainConfig
from xner.modeling.cache import training_key
from xner.modeling.transfer import SettingError, run_setting, spec_for


@pytest.fixture
def loader(toy_sentences):
    sizes, seeds = {"train": 40, "dev": 10, "test": 12}, {"id": 1, "ms": 2, "jv": 3}

    def load(lang, split, dataset="wikiann"):
        toks, tags = toy_sentences(sizes[split], seed=seeds[lang] * 10 + list(sizes).index(split))
        return from_lists(toks, tags, lang=lang, label_set="wikiann")

    return load


def test_zero_shot_models_of_one_source_are_one_model(loader, tmp_path):
    cache = tmp_path / "cache"
    crf = CRFConfig(max_iterations=5)
    kw = dict(crf_config=crf, loader=loader, model_cache=cache, n_resamples=50)
    a = run_setting(spec_for("zero-shot", "id", "ms"), "crf", output_dir=tmp_path / "id-ms", **kw)
    b = run_setting(spec_for("zero-shot", "id", "jv"), "crf", output_dir=tmp_path / "id-jv", **kw)
    native = run_setting(spec_for("native", "id", "id"), "crf", output_dir=tmp_path / "id-id", **kw)
    assert not a.stats["model_reused"] and b.stats["model_reused"] and native.stats["model_reused"]
    assert len(list(cache.iterdir())) == 1
    for run in ("id-ms", "id-jv", "id-id"):
        assert (tmp_path / run / "model").is_symlink()
        assert (tmp_path / run / "model" / "model.crfsuite").is_file()
    # the reused model predicts what the trained one does
    toks = [list(t) for t in loader("ms", "test")["tokens"]]
    assert a.predictor.predict(toks) == b.predictor.predict(toks)


def test_other_settings_or_data_train_another_model(loader, tmp_path):
    cache = tmp_path / "cache"
    for iters in (5, 6):
        run_setting(
            spec_for("zero-shot", "id", "ms"),
            "crf",
            crf_config=CRFConfig(max_iterations=iters),
            loader=loader,
            model_cache=cache,
            output_dir=tmp_path / f"run{iters}",
            n_resamples=50,
        )
    run_setting(
        spec_for("zero-shot", "ms", "id"),
        "crf",
        crf_config=CRFConfig(max_iterations=5),
        loader=loader,
        model_cache=cache,
        output_dir=tmp_path / "ms-id",
        n_resamples=50,
    )
    assert len(list(cache.iterdir())) == 3


def test_key_ignores_how_a_model_runs_but_not_what_shapes_it(loader):
    train, dev = loader("id", "train"), loader("id", "dev")
    base = training_key("e5-small", "/m", TrainConfig(), train, dev)
    assert base == training_key("e5-small", "/m", TrainConfig(num_threads=1, progress=False), train, dev)
    assert base != training_key("e5-small", "/m", TrainConfig(learning_rate=3e-4), train, dev)
    assert base != training_key("e5-small", "/m", TrainConfig(), loader("ms", "train"), dev)
    assert base != training_key("e5-small", "/other", TrainConfig(), train, dev)


def test_cache_needs_an_output_folder(loader, tmp_path):
    with pytest.raises(SettingError, match="output_dir"):
        run_setting(spec_for("zero-shot", "id", "ms"), "crf", loader=loader, model_cache=tmp_path, n_resamples=50)
