"""Reading CoNLL-style files: every layout, and errors that name the file and line."""

from __future__ import annotations

import pytest

from xner.conll import DataFormatError, parse_conll, write_conll
from xner.data import read_conll, tag_names
from xner.labels import CONLL, WIKIANN


@pytest.mark.parametrize(
    "text, tokens, tags, langs",
    [
        ("Paris\tB-LOC\nis\tO\n\nBob\tB-PER\n", [["Paris", "is"], ["Bob"]], [["B-LOC", "O"], ["B-PER"]], None),
        ("Paris B-LOC\nis O\n", [["Paris", "is"]], [["B-LOC", "O"]], None),  # MasakhaNER: token tag
        (
            "-DOCSTART- -X- O O\n\nWolff NNP B-PER\n, , O\n",
            [["Wolff", ","]],
            [["B-PER", "O"]],
            None,
        ),  # CoNLL multi-column
        ("en:Paris\tB-LOC\nen:is\tO\n", [["Paris", "is"]], [["B-LOC", "O"]], [["en", "en"]]),  # lang: prefixes
        ("\n\nA\tO\n\n\n\nB\tB-ORG\n\n\n", [["A"], ["B"]], [["O"], ["B-ORG"]], None),  # blank-line runs
        ("Paris\tB-LOC\r\nis\tO\r\n", [["Paris", "is"]], [["B-LOC", "O"]], None),  # CRLF
        ("\ufeffA\tO\n", [["A"]], [["O"]], None),  # BOM
        ("a:b\tO\n", [["a:b"]], [["O"]], None),  # a one-letter prefix is no language code
    ],
)
def test_layouts(tmp_path, text, tokens, tags, langs):
    p = tmp_path / "f.tsv"
    p.write_text(text, encoding="utf-8")
    parsed = parse_conll(p)
    assert parsed.tokens == tokens and parsed.tags == tags and parsed.langs == langs


def test_docstart_counted(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("-DOCSTART- O\n\nA O\n\n-DOCSTART- O\n\nB B-PER\n", encoding="utf-8")
    parsed = parse_conll(p)
    assert parsed.docstarts == 2 and len(parsed.tokens) == 2


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("A\tO\nB\tO\textra\n", 2, "expected 2 tab-separated columns"),
        ("A\tO\n\tO\n", 2, "empty token"),
        ("A\tO\nB\tX-PER\n", 2, "not a IOB2 tag"),
        ("A\tO\nB\tI-PER\n", 2, "invalid IOB2"),
        ("A\tB-PER\nB\tI-LOC\n", 2, "invalid IOB2"),
        ("A\tO\n\nB\tB-DATE\n", 3, "not in label set wikiann"),
        ("A\n", 1, "expected 'token<TAB>tag'"),
        ("en:A\tO\nB\tO\n", 2, "lang:token"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, fragment):
    p = tmp_path / "bad.tsv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as exc:
        parse_conll(p, label_set=WIKIANN)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:{line}:"), msg
    assert fragment in msg


def test_not_utf8_names_line(tmp_path):
    p = tmp_path / "latin1.tsv"
    p.write_bytes("A\tO\n\nM\xfcnchen\tB-LOC\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1.tsv:3: not UTF-8"):
        parse_conll(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.tsv"
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="empty file"):
        parse_conll(p)


def test_repair_counts(tmp_path):
    p = tmp_path / "f.tsv"
    p.write_text("A\tI-PER\nB\tI-PER\nC\tO\nD\tI-LOC\n", encoding="utf-8")
    parsed = parse_conll(p, repair=True)
    assert parsed.tags == [["B-PER", "I-PER", "O", "B-LOC"]]
    assert parsed.repaired == 2


@pytest.mark.parametrize(
    "scheme, tags", [("IOB1", ["I-PER", "I-PER", "B-PER", "O"]), ("BIOES", ["B-PER", "E-PER", "S-PER", "O"])]
)
def test_other_schemes_become_iob2(tmp_path, scheme, tags):
    p = tmp_path / "f.tsv"
    p.write_text("".join(f"w{i}\t{t}\n" for i, t in enumerate(tags)), encoding="utf-8")
    assert parse_conll(p, scheme=scheme).tags == [["B-PER", "I-PER", "B-PER", "O"]]


def test_label_set_inferred(tmp_path):
    p = tmp_path / "f.tsv"
    p.write_text("A\tB-MISC\n", encoding="utf-8")
    assert parse_conll(p).label_set is CONLL


def test_roundtrip(tmp_path):
    p = tmp_path / "f.tsv"
    p.write_text("Paris\tB-LOC\nis\tO\n\nBob\tB-PER\nSmith\tI-PER\n", encoding="utf-8")
    ds = read_conll(p, lang="en")
    out = write_conll(ds["tokens"], tag_names(ds), tmp_path / "g.tsv")
    assert out.read_text(encoding="utf-8") == p.read_text(encoding="utf-8") + "\n"
    assert ds["langs"] == [["en", "en"], ["en", "en"]]
