"""Loading splits: local-first order, discovery, clear errors, and the real data."""

from __future__ import annotations

import json

import pytest

from xner import config
from xner.data import DataNotFoundError, find_split_file, label_set_of, load_split, read_conll, tag_names, write_conll
from xner.labels import CONLL, WIKIANN


def test_load_from_data_setting(fixture_data_dir):
    ds = load_split("id", "train")
    assert ds.column_names == ["tokens", "ner_tags", "langs"]
    assert ds.features["ner_tags"].feature.names == list(WIKIANN.labels)
    assert ds[0]["tokens"][:2] == ["Joko", "Widodo"] and ds[0]["langs"][0] == "id"
    assert tag_names(ds)[0] == ["B-PER", "I-PER", "O", "O", "B-LOC"]


def test_explicit_path_wins(fixture_data_dir, tmp_path):
    other = tmp_path / "mine"
    (other).mkdir()
    (other / "validation.txt").write_text("X B-ORG\n", encoding="utf-8")
    ds = load_split("id", "dev", path=other)
    assert ds["tokens"] == [["X"]]


def test_ambiguous_split_files(tmp_path):
    (tmp_path / "dev.tsv").write_text("A\tO\n", encoding="utf-8")
    (tmp_path / "validation.tsv").write_text("A\tO\n", encoding="utf-8")
    with pytest.raises(DataNotFoundError, match="several files"):
        find_split_file(tmp_path, "dev")


def test_unknown_language_and_dataset(fixture_data_dir):
    with pytest.raises(config.ConfigError, match="unknown language 'xx'"):
        load_split("xx", "train")
    with pytest.raises(DataNotFoundError, match="unknown dataset 'ontonotes'"):
        load_split("id", "train", "ontonotes")
    with pytest.raises(DataNotFoundError, match="unknown split"):
        load_split("id", "validation")


def test_nothing_available_says_how_to_point_at_data(monkeypatch, tmp_path):
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="export XNER_DATA_DIR"):
        load_split("id", "train", hub=False)
    with pytest.raises(DataNotFoundError, match="no hub copy"):
        load_split("es", "train", "conll2002")


def test_bad_data_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("XNER_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(config.ConfigError, match="is not a folder"):
        load_split("id", "train")


def test_label_set_mismatch_names_file(fixture_data_dir):
    path = fixture_data_dir / "wikiann" / "ms" / "test.tsv"
    path.write_text("A\tB-MISC\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ms/test.tsv:1: tag 'B-MISC' is not in label set wikiann"):
        load_split("ms", "test")


def test_write_roundtrip(fixture_data_dir, tmp_path):
    ds = load_split("ms", "train")
    back = read_conll(write_conll(ds, tmp_path / "x" / "train.tsv"), lang="ms")
    assert back["tokens"] == ds["tokens"] and back["ner_tags"] == ds["ner_tags"]


@pytest.mark.realdata
def test_every_real_file_loads_with_manifest_counts(real_data_dir):
    manifest = json.loads((real_data_dir / "MANIFEST.json").read_text())
    for rel, meta in manifest.items():
        parts = rel.split("/")
        if parts[0] == "europarl":
            ds = load_split(parts[1].removesuffix(".tsv"), "test", "europarl")
        else:
            ds = load_split(parts[1], parts[2].removesuffix(".tsv"), parts[0])
        assert len(ds) == meta["sentences"], rel
        assert sum(map(len, ds["tokens"])) == meta["tokens"], rel
        assert label_set_of(ds) is (CONLL if parts[0] in ("europarl", "conll2002") else WIKIANN)


@pytest.mark.realdata
def test_languages_yaml_matches_local_data(real_data_dir):
    local = {p.name for p in (real_data_dir / "wikiann").iterdir()}
    marked = {code for code, lang in config.languages().items() if lang.local}
    assert local == marked
    for p in config.pairs("local"):
        assert not p.needs_hub
    assert {p.name for p in config.pairs("study") if not p.needs_hub} == {"ar-fa", "ar-hi", "id-ms", "nl-af"}
