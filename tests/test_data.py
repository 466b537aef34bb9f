"""Loading splits: local-first order, discovery, clear errors, and the real data."""

from __future__ import annotations

import json
import shutil

import pytest

from xner import config
from xner.conll import DataFormatError
from xner.data import (
    DataNotFoundError,
    check_pairs_data,
    dataset_for,
    find_split_file,
    from_lists,
    label_set_of,
    load_split,
    read_conll,
    resolve_split,
    source_report,
    tag_names,
    write_conll,
)
from xner.labels import CONLL, WIKIANN, LabelError, LabelSet


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
        assert label_set_of(ds) is (CONLL if parts[0] in ("europarl", "conll2002", "conll2003") else WIKIANN)


@pytest.mark.realdata
def test_languages_yaml_matches_local_data(real_data_dir):
    local = {p.name for p in (real_data_dir / "wikiann").iterdir()}
    marked = {code for code, lang in config.languages().items() if lang.local}
    assert local == marked
    for p in config.pairs("local"):
        assert not p.needs_hub
    assert {p.name for p in config.pairs("study") if not p.needs_hub} == {"ar-fa", "ar-hi", "id-ms", "nl-af"}


# ------------------------------------------------------------------ issue 17: sources, mixing, copies


def test_language_not_in_languages_yaml_loads_from_local_files(fixture_data_dir, tmp_path):
    """Item 9: a MasakhaNER-style file of a language absent from configs/languages.yaml loads, with a note."""
    f = tmp_path / "hau" / "train.txt"
    f.parent.mkdir()
    f.write_text("Shugaban O\nBuhari B-PER\nranar B-DATE\nLitinin I-DATE\n", encoding="utf-8")
    ds = load_split("hau", "train", "masakhaner", path=f)
    assert ds["tokens"] == [["Shugaban", "Buhari", "ranar", "Litinin"]] and ds["langs"][0][0] == "hau"
    assert ds.info.description.startswith(f"masakhaner/hau/train: path ({f})")
    assert "not in configs/languages.yaml" in ds.info.description
    # The same from the data setting, laid out as <dataset>/<lang>/<split>.
    (fixture_data_dir / "masakhaner").mkdir()
    (fixture_data_dir / "masakhaner" / "hau").symlink_to(f.parent)
    assert load_split("hau", "train", "masakhaner")["tokens"] == ds["tokens"]
    with pytest.raises(config.ConfigError, match=r"unknown language 'xx'.*pass path="):
        load_split("xx", "train")
    with pytest.raises(config.ConfigError, match="expected an ISO code"):
        load_split("../id", "train")


def test_every_split_says_where_it_came_from(fixture_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    src = resolve_split("id", "train")
    assert (src.kind, src.location) == ("data setting", str(fixture_data_dir / "wikiann" / "id" / "train.tsv"))
    assert load_split("id", "train").info.description.startswith(f"{src}.")
    assert resolve_split("id", "dev", path=fixture_data_dir / "wikiann" / "ms").kind == "path"
    assert resolve_split("br", "test").kind == "hub"  # br is not local: the hub is its expected source
    cached = tmp_path / "cache" / "datasets" / "wikiann" / "br" / "test"
    from_lists([["Brest"]], [["B-LOC"]], lang="br", label_set="wikiann").save_to_disk(str(cached))
    assert resolve_split("br", "test").kind == "cache"
    ds = load_split("br", "test", hub=False)
    assert ds.info.description.startswith(f"wikiann/br/test: cache ({cached})")
    found, problems = source_report(["id", "br"], splits=["train", "test"], hub=False)
    assert [(s.lang, s.split, s.kind) for s in found] == [
        ("id", "train", "data setting"),
        ("id", "test", "data setting"),
        ("br", "test", "cache"),
    ]
    assert len(problems) == 1 and "wikiann/br/train: not found" in problems[0]


def test_a_local_language_missing_from_the_data_folder_is_not_taken_from_the_hub(
    fixture_data_dir, tmp_path, monkeypatch
):
    """Item 3: a partial data folder does not silently mix local and hub splits of WikiANN."""
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "datasets" / "wikiann" / "fr" / "test"
    from_lists([["Paris"]], [["B-LOC"]], lang="fr", label_set="wikiann").save_to_disk(str(cached))
    with pytest.raises(
        DataNotFoundError, match=r"fr is marked local .* Mixing local and hub splits of wikiann is refused"
    ):
        load_split("fr", "test")
    assert load_split("fr", "test", allow_mixed=True)["tokens"] == [["Paris"]]
    monkeypatch.setenv("XNER_ALLOW_MIXED_SOURCES", "1")
    assert resolve_split("fr", "test").kind == "cache"
    # A language folder with a split missing is an error, never a fallback.
    (fixture_data_dir / "wikiann" / "ms" / "dev.tsv").unlink()
    with pytest.raises(DataNotFoundError, match=r"ms: no dev file"):
        load_split("ms", "dev")


def test_cached_copies_get_the_label_checks(fixture_data_dir, tmp_path, monkeypatch):
    """Item 3: a cached hub copy is checked like a local file: label order and strict IOB2."""
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "datasets" / "wikiann" / "br" / "test"
    other = LabelSet("other", ("O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"))
    from_lists([["Brest"]], [["B-LOC"]], lang="br", label_set=other).save_to_disk(str(cached))
    with pytest.raises(LabelError, match=rf"{cached}: labels .* differ from the expected wikiann order"):
        load_split("br", "test", hub=False)
    shutil.rmtree(cached)
    from_lists([["e", "Brest"], ["Kemper"]], [["O", "I-LOC"], ["B-LOC"]], lang="br", label_set="wikiann").save_to_disk(
        str(cached)
    )
    with pytest.raises(DataFormatError, match=rf"{cached}: sentence 0, token 1: invalid IOB2: I-LOC follows O"):
        load_split("br", "test", hub=False)
    ds = load_split("br", "test", hub=False, repair=True)
    assert tag_names(ds) == [["O", "B-LOC"], ["B-LOC"]] and "1 tags repaired" in ds.info.description


def test_check_pairs_data_names_what_each_pair_needs(fixture_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lines, problems = check_pairs_data([config.parse_pair("id-ms")])
    assert lines == ["id: data setting (3/3 splits; pairs id-ms)", "ms: data setting (3/3 splits; pairs id-ms)"]
    assert problems == []
    lines, problems = check_pairs_data([config.parse_pair("nl-af"), config.parse_pair("id-br")])
    assert any("nl is marked local" in p for p in problems) and any("af is marked local" in p for p in problems)
    assert any(p.startswith("br: needs the Hugging Face hub (pairs id-br), but HF_HUB_OFFLINE") for p in problems)
    assert "br: hub (3/3 splits; pairs id-br)" in lines


# ------------------------------------------------------------------ issue 18: CoNLL-2003, datasets per language


@pytest.mark.realdata
def test_conll2003_english_has_the_published_counts(real_data_dir):
    sizes = {split: load_split("en", split, "conll2003") for split in ("train", "dev", "test")}
    assert {k: len(v) for k, v in sizes.items()} == {"train": 14041, "dev": 3250, "test": 3453}
    test = sizes["test"]
    assert label_set_of(test) is CONLL
    entities = sum(t.startswith("B-") for tags in tag_names(test) for t in tags)
    assert entities == 5648
    assert resolve_split("en", "test", "conll2003").location.endswith("conll2003/en/test.tsv")


@pytest.mark.realdata
def test_conll2003_and_conll2002_share_the_conll_label_set(real_data_dir):
    en = load_split("en", "dev", "conll2002,en=conll2003")
    es = load_split("es", "dev", "conll2002,en=conll2003")
    assert label_set_of(en) is label_set_of(es) is CONLL
    assert "conll2003/en" in resolve_split("en", "dev", "conll2002,en=conll2003").location
    assert "conll2002/es" in resolve_split("es", "dev", "conll2002,en=conll2003").location


def test_dataset_per_language():
    assert dataset_for("conll2002", "en") == "conll2002"
    assert dataset_for("conll2002,en=conll2003", "en") == "conll2003"
    assert dataset_for("conll2002, en = conll2003", "nl") == "conll2002"
    assert dataset_for("wikiann,es=conll2002,en=conll2003", "es") == "conll2002"
    for bad, match in (
        ("conll2002,en", "not lang=dataset"),
        ("conll2002,en=", "not lang=dataset"),
        ("en=conll2003", "first part must be the default"),
        ("conll2002,en=conll2003,en=wikiann", "given twice"),
        ("conll2002,en=ontonotes", "unknown dataset 'ontonotes'"),
    ):
        with pytest.raises(DataNotFoundError, match=match):
            dataset_for(bad, "en")


def test_conll2003_hub_copy_has_only_english(monkeypatch, tmp_path):
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path))
    src = resolve_split("en", "test", "conll2003")
    assert src.kind == "hub" and "lhoestq/conll2003" in src.location
    with pytest.raises(DataNotFoundError, match="has only en"):
        resolve_split("de", "test", "conll2003")
    with pytest.raises(DataNotFoundError, match="has only en"):
        resolve_split("es", "test", "wikiann,es=conll2003")


def test_conll2003_hub_copy_is_checked_like_a_file(monkeypatch, tmp_path):
    """The hub path (cannot run offline): load_dataset is replaced by a copy with the hub's columns."""
    import datasets

    from xner.data import sources

    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path))
    calls = []
    names = list(CONLL.labels)

    def fake(repo, name, split):
        calls.append((repo, name, split))
        feats = datasets.Features(
            {
                "id": datasets.Value("string"),
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
            }
        )
        return datasets.Dataset.from_dict(
            {"id": ["0"], "tokens": [["EU", "rejects", "German"]], "ner_tags": [[3, 0, 7]]}, features=feats
        )

    monkeypatch.setattr(sources.datasets, "load_dataset", fake)
    ds = load_split("en", "dev", "conll2003")
    assert calls == [("lhoestq/conll2003", None, "validation")]
    assert tag_names(ds) == [["B-ORG", "O", "B-MISC"]] and ds[0]["langs"] == ["en"] * 3
    assert resolve_split("en", "dev", "conll2003").kind == "cache"
