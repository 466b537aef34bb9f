"""Reading CoNLL-style files: every layout, and errors that name the file and line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xner.conll import DataFormatError, parse_conll, write_conll
from xner.data import read_conll, tag_names
from xner.labels import CONLL, WIKIANN, LabelError, tags_from_spans


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


# ------------------------------------------------------------------ issue 17: bad input is never silent


def test_cr_only_line_ends_read_every_sentence(tmp_path):
    """Item 1: old-Mac CR-only files are split into their lines, not read as one token."""
    text = "Megumi\tB-PER\nTachikawa\tI-PER\nmenang\tO\n\nDi\tO\nKuala\tB-LOC\nLumpur\tI-LOC\n"
    p = tmp_path / "cr.tsv"
    p.write_bytes(text.replace("\n", "\r").encode("utf-8"))
    parsed = parse_conll(p)
    assert parsed.tokens == [["Megumi", "Tachikawa", "menang"], ["Di", "Kuala", "Lumpur"]]
    assert parsed.tags[0] == ["B-PER", "I-PER", "O"] and "CR-only" in parsed.notes[0]
    p.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert parse_conll(p).tokens[1] == ["Di", "Kuala", "Lumpur"]


def test_cr_only_error_names_the_right_line(tmp_path):
    p = tmp_path / "cr.tsv"
    p.write_bytes(b"A\tO\r\rB\tO\rC\tI-PER\r")
    with pytest.raises(DataFormatError, match=r"cr.tsv:4: invalid IOB2"):
        parse_conll(p)


def test_a_lone_cr_in_an_lf_file_is_refused_at_its_line(tmp_path):
    p = tmp_path / "mixed.tsv"
    p.write_bytes(b"A\tO\r\nB\tO\n\nC\rD\tO\n")
    with pytest.raises(DataFormatError, match=r"mixed.tsv:4: carriage return"):
        parse_conll(p)


@pytest.mark.parametrize(
    "text, line",
    [
        ("Ali\tB-PER\nBaba\tI-PER\tJr\nO\n", 2),  # 3 columns then 1: the total is even
        ("Ali\tB-PER\nBaba\nI-PER\tO\n", 2),
        ("A\tO\nB\tO\n\nC\tO\tD\nE\n", 4),
    ],
)
def test_fast_reader_checks_columns_per_line(tmp_path, text, line):
    """Item 2: misaligned columns whose total count is even are refused at the first bad line."""
    p = tmp_path / "mis.tsv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"mis.tsv:{line}: expected 2 tab-separated columns"):
        parse_conll(p)


@pytest.mark.parametrize(
    "scheme, tags, line, fragment, repaired",
    [
        ("BIOES", ["O", "E-LOC"], 2, "E-LOC follows O", ["O", "B-LOC"]),
        ("BIOES", ["B-LOC", "O"], 2, "expected I-LOC or E-LOC", ["B-LOC", "O"]),
        ("BIOES", ["S-LOC", "I-LOC"], 2, "I-LOC follows S-LOC", ["B-LOC", "B-LOC"]),
        ("BIOES", ["O", "B-PER"], 2, "not closed by E-PER", ["O", "B-PER"]),
        ("BIOES", ["B-PER", "E-LOC"], 2, "E-LOC follows B-PER", ["B-PER", "B-LOC"]),
        ("IOB1", ["O", "B-LOC"], 2, "only separates two adjacent LOC", ["O", "B-LOC"]),
        ("IOB1", ["I-PER", "B-LOC"], 2, "B-LOC follows I-PER", ["B-PER", "B-LOC"]),
    ],
)
def test_broken_iob1_bioes_refused_or_repaired_and_counted(tmp_path, scheme, tags, line, fragment, repaired):
    """Item 4: broken IOB1/BIOES sequences raise without repair=True, and are counted with it."""
    p = tmp_path / "s.tsv"
    p.write_text("".join(f"w{i}\t{t}\n" for i, t in enumerate(tags)), encoding="utf-8")
    with pytest.raises(DataFormatError) as exc:
        parse_conll(p, scheme=scheme)
    assert str(exc.value).startswith(f"{p}:{line}: invalid {scheme}:") and fragment in str(exc.value)
    parsed = parse_conll(p, scheme=scheme, repair=True)
    assert parsed.tags == [repaired] and parsed.repaired == 1
    ds = read_conll(p, scheme=scheme, repair=True)
    assert "1 tags repaired" in ds.info.description


def test_valid_iob1_bioes_repair_nothing(tmp_path):
    p = tmp_path / "s.tsv"
    p.write_text("a\tB-PER\nb\tI-PER\nc\tE-PER\nd\tS-LOC\ne\tO\n", encoding="utf-8")
    parsed = parse_conll(p, scheme="BIOES", repair=True)
    assert parsed.tags == [["B-PER", "I-PER", "I-PER", "B-LOC", "O"]] and parsed.repaired == 0


def test_byte_order_mark_of_a_concatenated_file_is_removed(tmp_path):
    """Item 6: a BOM at the start of a line (two files concatenated) does not stay inside the token."""
    p = tmp_path / "cat.tsv"
    p.write_bytes("\ufeffA\tO\n\n".encode() + "\ufeffBudi\tB-PER\n".encode())
    parsed = parse_conll(p)
    assert parsed.tokens == [["A"], ["Budi"]] and any("byte order mark" in n for n in parsed.notes)
    # U+FEFF inside a token is a character of it (the real pt train file has one): kept.
    p.write_text("68°3′0″W\ufeff\tO\n", encoding="utf-8")
    assert parse_conll(p).tokens == [["68°3′0″W\ufeff"]]


def test_lang_prefix_detection_can_be_switched_off(tmp_path):
    """Item 9: a first token like en:wiki is not taken for a prefix when lang_prefix=False."""
    p = tmp_path / "p.tsv"
    p.write_text("en:wiki\tO\nfoo\tO\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"p.tsv:2: .*pass lang_prefix=False"):
        parse_conll(p)
    assert parse_conll(p, lang_prefix=False).tokens == [["en:wiki", "foo"]]
    ds = read_conll(p, lang="en", lang_prefix=False)
    assert ds["tokens"] == [["en:wiki", "foo"]] and ds["langs"] == [["en", "en"]]
    p.write_text("en:Paris\tB-LOC\n", encoding="utf-8")
    parsed = parse_conll(p)
    assert parsed.tokens == [["Paris"]] and "lang_prefix=False" in parsed.notes[0]


@pytest.mark.parametrize("text", ["New York\tB-LOC\n", "A\tO\nB \tO\n", "A\tO\nB\u00a0C\tO\n", "A\tO\n x\tO\n"])
def test_tokens_with_whitespace_are_refused(tmp_path, text):
    """Item 9: the reader refuses what the perturbations would reject later, naming the line."""
    p = tmp_path / "w.tsv"
    p.write_text(text, encoding="utf-8")
    line = text.count("\n")
    with pytest.raises(DataFormatError, match=rf"w.tsv:{line}: token .* contains whitespace"):
        parse_conll(p)


def test_tokens_with_whitespace_are_not_written(tmp_path):
    with pytest.raises(LabelError, match="token 'New York' cannot be written"):
        write_conll([["New York"]], [["B-LOC"]], tmp_path / "w.tsv")


def test_trailing_whitespace_after_the_tag_is_harmless(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("A\tB-PER  \nB\tO\t\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"t.tsv:2: expected 2 tab-separated columns"):
        parse_conll(p)  # a trailing tab is a third column
    p.write_text("A\tB-PER  \nB\tO \n", encoding="utf-8")
    assert parse_conll(p).tags == [["B-PER", "O"]]


def test_a_folder_is_not_a_missing_file(tmp_path):
    """Item 9: read_conll(folder) says it is a folder and how to load a split from it."""
    with pytest.raises(DataFormatError, match=r"is a folder, not a file.*load_split"):
        read_conll(tmp_path)
    with pytest.raises(DataFormatError, match="no such file"):
        read_conll(tmp_path / "nope.tsv")


# ------------------------------------------------------------ property test: layouts and corruptions

_TOKEN = st.text(alphabet="abcXYZ019.,()'-éß中Ж", min_size=1, max_size=6)
_TYPES = ["PER", "ORG", "LOC", "MISC"]


@st.composite
def _sentence(draw):
    """One sentence as (tokens, entity spans); adjacent entities of one type happen (IOB1's B- case)."""
    toks: list[str] = []
    spans: list[tuple[str, int, int]] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            toks.append(draw(_TOKEN))
        else:
            n = draw(st.integers(1, 3))
            spans.append((draw(st.sampled_from(_TYPES)), len(toks), len(toks) + n))
            toks += [draw(_TOKEN) for _ in range(n)]
    return toks, spans


_LAYOUTS = {
    "tab": lambda tok, tag, lang: f"{tok}\t{tag}",
    "space": lambda tok, tag, lang: f"{tok} {tag}",
    "multi": lambda tok, tag, lang: f"{tok} NN I-NP {tag}",
    "multi_tab": lambda tok, tag, lang: f"{tok}\tNN\t{tag}",
    "prefix": lambda tok, tag, lang: f"{lang}:{tok}\t{tag}",
}


@st.composite
def _corpus_file(draw):
    """A valid corpus and its text in one of the supported layouts, schemes and line ends."""
    sents = draw(st.lists(_sentence(), min_size=1, max_size=5))
    layout = draw(st.sampled_from(sorted(_LAYOUTS)))
    scheme = draw(st.sampled_from(["IOB1", "IOB2", "BIOES"]))
    lang = draw(st.sampled_from(["en", "pt", "sco"]))
    lines: list[str] = []
    if draw(st.booleans()):
        lines += ["-DOCSTART- -X- O O", ""]
    token_lines: list[int] = []  # indexes into lines
    for toks, spans in sents:
        for tok, tag in zip(toks, tags_from_spans(spans, len(toks), scheme), strict=True):
            token_lines.append(len(lines))
            lines.append(_LAYOUTS[layout](tok, tag, lang))
        lines += [""] * draw(st.integers(1, 2))
    expected = (
        [t for t, _ in sents],
        [tags_from_spans(s, len(t), "IOB2") for t, s in sents],
        [[lang] * len(t) for t, _ in sents] if layout == "prefix" else None,
    )
    options = {
        "newline": draw(st.sampled_from(["\n", "\r\n", "\r"])),
        "bom": draw(st.booleans()),
        "layout": layout,
        "scheme": scheme,
    }
    return lines, token_lines, expected, options


def _write(path, lines, newline, bom):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + newline.join(lines).encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(data=_corpus_file())
def test_property_every_layout_reads_back(data):
    lines, _, (tokens, tags, langs), opt = data
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.txt"
        _write(p, lines, opt["newline"], opt["bom"])
        parsed = parse_conll(p, scheme=opt["scheme"])
    assert parsed.tokens == tokens and parsed.tags == tags and parsed.langs == langs and parsed.repaired == 0


def _corrupt(line: str, kind: str, layout: str, rnd: int) -> str:
    sep = "\t" if "\t" in line else " "
    cols = line.split(sep)
    if kind == "extra_column":
        return line + sep + "x"
    if kind == "drop_column":
        return sep.join(cols[:-1])
    if kind == "bad_tag":
        return sep.join([*cols[:-1], "Q-" + cols[-1]])
    if kind == "space_in_token":
        tok = cols[0]
        at = rnd % (len(tok) + 1)
        return sep.join([tok[:at] + " " + tok[at:], *cols[1:]])
    if kind == "trailing_space":
        return line + "  "
    if kind == "bom_at_line_start":
        return "\ufeff" + line
    if kind == "stray_cr":
        at = rnd % (len(line) + 1)
        return line[:at] + "\r" + line[at:]
    raise AssertionError(kind)


@settings(max_examples=300, deadline=None)
@given(
    data=_corpus_file(),
    kind=st.sampled_from(
        [
            "extra_column",
            "drop_column",
            "shift_column",
            "bad_tag",
            "space_in_token",
            "trailing_space",
            "bom_at_line_start",
            "stray_cr",
        ]
    ),
    pick=st.integers(0, 10_000),
)
def test_property_corruptions_fail_at_their_line_or_read_back_identical(data, kind, pick):
    """A corrupted line is refused with its own line number, or the corpus reads back unchanged — never another."""
    lines, token_lines, (tokens, tags, langs), opt = data
    assume(len(token_lines) > 1)
    idx = token_lines[1:][pick % (len(token_lines) - 1)]  # not the first token line: it fixes the layout
    lines = list(lines)
    if kind == "shift_column":  # the next line's tag moves up: the column total stays even
        assume(idx + 1 in token_lines)
        sep = "\t" if "\t" in lines[idx] else " "
        below = lines[idx + 1].split(sep)
        lines[idx], lines[idx + 1] = lines[idx] + sep + below[-1], sep.join(below[:-1])
    else:
        # In a CR-only file a CR is the line end: inserting one inserts a line break, not a detectable corruption.
        assume(kind != "stray_cr" or opt["newline"] != "\r")
        lines[idx] = _corrupt(lines[idx], kind, opt["layout"], pick)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.txt"
        _write(p, lines, opt["newline"], opt["bom"])
        try:
            parsed = parse_conll(p, scheme=opt["scheme"])
        except DataFormatError as exc:
            assert str(exc).startswith(f"{p}:{idx + 1}:"), (kind, str(exc))
            return
    assert parsed.tokens == tokens and parsed.tags == tags and parsed.langs == langs, kind
