"""Shared fixtures: small CoNLL files written by the tests themselves, and the real-data tier switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


def png_outputs(notebook: Path) -> int:
    """How many ``image/png`` outputs an executed notebook holds (the figures it showed)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
