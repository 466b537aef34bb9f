"""Reading and writing CoNLL-style NER files: one token per line, a blank line between sentences.

Accepted layouts (detected per file, then enforced on every line of it):

* ``token<TAB>tag`` (WikiANN/PAN-X as in XTREME, the local data), ``token tag`` (MasakhaNER),
* CoNLL-2002/2003 multi-column (``token POS [chunk] tag``: the token is the first column, the tag the last),
* ``lang:token`` prefixes (PAN-X as distributed by XTREME): the prefix is stripped and kept as the language,
* ``-DOCSTART-`` lines (skipped and counted) and runs of blank lines (one sentence boundary).

Every problem is an error naming the file, the line and what was expected; nothing is dropped silently.
The parser is hand-written because no maintained library reads these variants with line-level errors
(``datasets``' old conll loading scripts no longer run, and they report no positions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xner.labels import SCHEMES, LabelError, LabelSet, convert_scheme, infer_label_set, validate_tags

_LANG_PREFIX = re.compile(r"^([a-z]{2,3}(?:-[A-Za-z]+)?):(.+)$")


class DataFormatError(ValueError):
    """A data file does not have the expected format; the message names the file and line."""


@dataclass
class ParsedFile:
    """Sentences read from one file, with the counts of what was skipped or repaired on purpose."""

    path: Path
    tokens: list[list[str]]
    tags: list[list[str]]
    langs: list[list[str]] | None
    label_set: LabelSet
    docstarts: int = 0
    repaired: int = 0
    columns: int = 2
    notes: list[str] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        """Number of tokens in the file."""
        return sum(len(t) for t in self.tokens)


def _err(path: Path, lineno: int, msg: str) -> DataFormatError:
    return DataFormatError(f"{path}:{lineno}: {msg}")


_NEWLINES = re.compile(r"\r\n?")
# Whitespace other than the tab and newline that separate columns and lines (a space inside a token): every
# character str.isspace() accepts, listed, because a listed class scans faster than [^\S\t\n].
_INNER_SPACE = re.compile("[\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def _read_text(path: Path) -> tuple[str, list[str]]:
    """Read a file as UTF-8 text with ``\\n`` line ends; return it with notes on what was normalised.

    CRLF and CR-only (old Mac) line ends become ``\\n``; a lone CR in a file with LF line ends is an error. A byte
    order mark at the start of the file or of a line (two files concatenated) is removed and noted; a U+FEFF
    inside a line is a character of the token.
    """
    if path.is_dir():
        raise DataFormatError(
            f"{path}: is a folder, not a file; pass one file (e.g. {path / 'train.tsv'}), or "
            "load_split(lang, split, path=folder) to pick a split's file from the folder"
        )
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = _NEWLINES.sub("\n", raw[: exc.start].decode("utf-8", errors="replace"))
        raise _err(
            path,
            before.count("\n") + 1,
            f"not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start}); convert the file to UTF-8",
        ) from None
    notes: list[str] = []
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
        notes.append("CR-only line ends read as line breaks")
    elif "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:  # a lone CR in a file with LF line ends: a line break nobody sees, or a stray byte
            raise _err(
                path,
                text.count("\n", 0, text.index("\r")) + 1,
                "carriage return (\\r) inside a line of a file with LF line ends; remove it, or give the whole "
                "file one kind of line end",
            )
        notes.append("CRLF line ends read as line breaks")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\n\ufeff" in text:
        n = text.count("\n\ufeff")
        text = text.replace("\n\ufeff", "\n")
        notes.append(f"removed {n} byte order mark(s) at line starts (concatenated files?)")
    return text, notes


def parse_conll(
    path: str | Path,
    *,
    label_set: LabelSet | None = None,
    scheme: str = "IOB2",
    repair: bool = False,
    lang_prefix: bool | None = None,
) -> ParsedFile:
    """Parse one CoNLL-style file into sentences of tokens and IOB2 tags.

    Args:
        path: the file.
        label_set: labels the file must use; every tag outside it is an error. ``None`` infers the smallest
            registered set (WikiANN, MasakhaNER, CoNLL) covering the file's entity types.
        scheme: the file's tagging scheme (``IOB2``, ``IOB1`` or ``BIOES``); tags are returned as IOB2.
        repair: read a sequence that breaks the scheme leniently (the conlleval reading: an ``I-X`` that does
            not continue an ``X`` entity starts one; a ``B-`` never closed by ``E-`` ends where the next entity
            or ``O`` starts) and count each repaired position in ``repaired``, instead of raising.
        lang_prefix: strip ``lang:`` prefixes from tokens; ``None`` detects them from the first token,
            ``False`` keeps tokens such as ``en:wiki`` as they are.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise DataFormatError(f"{path}: unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    text, notes = _read_text(path)
    if scheme == "IOB2" and not lang_prefix:
        fast = _fast_parse(path, text, label_set, prefixes_possible=lang_prefix is None)
        if fast is not None:
            fast.notes = notes
            return fast
    lines = _read_lines(path, text, lang_prefix)
    if lines.lang_prefix and lang_prefix is None:
        notes.append(
            f"tokens carry 'lang:' prefixes (detected from the first token {lines.first_token!r}), stripped and "
            "kept as langs; pass lang_prefix=False if they are part of the words"
        )
    tags, repaired, types = _check_scheme(path, lines.tags, lines.starts, scheme, repair)
    if label_set is None:
        label_set = infer_label_set(types)
    else:
        _check_label_set(path, tags, lines.starts, label_set)
    return ParsedFile(
        path,
        lines.tokens,
        tags,
        lines.langs,
        label_set,
        docstarts=lines.docstarts,
        repaired=repaired,
        columns=lines.ncols,
        notes=notes,
    )


@dataclass
class _Lines:
    """Sentences as read line by line (tags not yet checked), with each sentence's first line number."""

    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    langs: list[list[str]] | None = None
    starts: list[int] = field(default_factory=list)
    docstarts: int = 0
    ncols: int = 0
    use_tab: bool = True
    lang_prefix: bool = False
    first_token: str = ""


def _layout(path: Path, lineno: int, line: str, lang_prefix: bool | None, out: _Lines) -> None:
    """Fix the file's layout (separator, column count, prefixes) from its first token line."""
    out.use_tab = "\t" in line
    cols = line.split("\t") if out.use_tab else line.split()
    out.ncols = len(cols)
    if out.ncols < 2:
        raise _err(path, lineno, f"expected 'token<TAB>tag' or 'token tag' columns, got {line!r}")
    out.first_token = cols[0]
    out.lang_prefix = bool(_LANG_PREFIX.match(cols[0])) if lang_prefix is None else lang_prefix
    if out.lang_prefix:
        out.langs = []


def _token_line(path: Path, lineno: int, line: str, out: _Lines) -> tuple[str, str, str]:
    """Split one token line into (token, tag, lang) by the file's layout; every deviation is an error."""
    cols = line.split("\t") if out.use_tab else line.split()
    if len(cols) != out.ncols:
        sep = "tab" if out.use_tab else "whitespace"
        raise _err(
            path,
            lineno,
            f"expected {out.ncols} {sep}-separated columns like the file's first line, got {len(cols)}: {line!r}",
        )
    tok, tag = cols[0], cols[-1].strip()
    if not tok.strip():
        raise _err(path, lineno, f"empty token in {line!r}")
    if not tag:
        raise _err(path, lineno, f"empty tag in {line!r}")
    if any(c.isspace() for c in tok):
        raise _err(
            path,
            lineno,
            f"token {tok!r} contains whitespace; a token is one word (the perturbations and the tokenizer "
            "split on whitespace): remove the space, or put each word on its own line with its tag",
        )
    lang = ""
    if out.lang_prefix:
        m = _LANG_PREFIX.match(tok)
        if not m:
            raise _err(
                path,
                lineno,
                f"expected a 'lang:token' prefix like the file's first token {out.first_token!r}, got {tok!r} "
                "(pass lang_prefix=False if the first token's prefix is part of the word)",
            )
        lang, tok = m.group(1), m.group(2)
    return tok, tag, lang


def _read_lines(path: Path, text: str, lang_prefix: bool | None) -> _Lines:
    """Read token lines into sentences: blank lines separate sentences, ``-DOCSTART-`` lines are counted."""
    out = _Lines()
    cur_tok: list[str] = []
    cur_tag: list[str] = []
    cur_lang: list[str] = []
    for lineno, line in enumerate([*text.split("\n"), ""], 1):
        if not line.strip():
            if cur_tok:
                out.tokens.append(cur_tok)
                out.tags.append(cur_tag)
                if out.langs is not None:
                    out.langs.append(cur_lang)
                cur_tok, cur_tag, cur_lang = [], [], []
            continue
        if line.startswith("-DOCSTART-"):
            out.docstarts += 1
            continue
        if out.ncols == 0:
            _layout(path, lineno, line, lang_prefix, out)
        tok, tag, lang = _token_line(path, lineno, line, out)
        if not cur_tok:
            out.starts.append(lineno)
        cur_tok.append(tok)
        cur_tag.append(tag)
        cur_lang.append(lang)
    if not out.tokens:
        raise DataFormatError(f"{path}: empty file: no sentences (expected one 'token<TAB>tag' per line)")
    return out


def _check_scheme(
    path: Path, tags: list[list[str]], starts: list[int], scheme: str, repair: bool
) -> tuple[list[list[str]], int, dict[str, None]]:
    """Check every tag against ``scheme``, convert to IOB2, and repair (counted) or refuse broken sequences."""
    repaired = 0
    allowed = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}[scheme]
    types: dict[str, None] = {}
    hint = "pass repair=True to read it leniently (the conlleval reading), each repaired tag counted"
    out: list[list[str]] = []
    for si, sent in enumerate(tags):
        for wi, tag in enumerate(sent):
            if tag == "O":
                continue
            if len(tag) < 3 or tag[1] != "-" or tag[0] not in allowed:
                raise _err(
                    path, starts[si] + wi, f"tag {tag!r} is not a {scheme} tag (expected O or {'/'.join(allowed)}-TYPE)"
                )
            types.setdefault(tag[2:], None)
        problems = validate_tags(sent, scheme)
        if problems and not repair:
            p = problems[0]
            raise _err(path, starts[si] + p.position, f"invalid {scheme}: {p.message}; {hint}")
        repaired += len({p.position for p in problems})  # a position can break two rules (BIOES)
        out.append(convert_scheme(sent, scheme, "IOB2") if scheme != "IOB2" or problems else sent)
    return out, repaired, types


def _check_label_set(path: Path, tags: list[list[str]], starts: list[int], label_set: LabelSet) -> None:
    """Refuse, with its line, the first tag outside ``label_set``."""
    allowed_labels = set(label_set.labels)
    for si, sent in enumerate(tags):
        for wi, tag in enumerate(sent):
            if tag not in allowed_labels:
                raise _err(
                    path,
                    starts[si] + wi,
                    f"tag {tag!r} is not in label set {label_set.name} ({' '.join(label_set.labels)})",
                )


_BLANK_TOKEN = re.compile(r"^[^\S\n]*\t", re.MULTILINE)
_BLANKS = re.compile(r"\n(?:[ \t\r]*\n)+")
# A line with two tabs or more. With no such line and as many tabs as lines in each sentence, every line has
# exactly two columns (a 3-column line and a 1-column line together still have an even column total).
_TWO_TABS = re.compile(r"\t[^\t\n]*\t")
# An I- tag at a sentence start, after O, or after a tag of another type (tags joined by spaces, one sentence
# per line): exactly the positions validate_iob2 reports.
_BAD_I = re.compile(r"(?:^|(?<=O ))I-|[BI]-(\S+) I-(?!\1(?: |$))", re.MULTILINE)


def _fast_blocks(text: str) -> tuple[list[list[str]], list[list[str]]] | None:
    """Split well-formed two-column text into per-sentence token and tag lists (``None`` if anything is off)."""
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    for block in _BLANKS.split(text.strip("\n")):
        if not block:
            continue
        parts = block.replace("\n", "\t").split("\t")
        if len(parts) != 2 * (block.count("\n") + 1):
            return None
        toks, tg = parts[0::2], parts[1::2]
        if "" in toks or "" in tg:
            return None
        tokens.append(toks)
        tags.append(tg)
    return (tokens, tags) if tokens else None


def _fast_parse(
    path: Path, text: str, label_set: LabelSet | None, *, prefixes_possible: bool = True
) -> ParsedFile | None:
    """Parse the common case — two tab-separated columns, valid IOB2, no prefixes — with C-level string work.

    Returns ``None`` whenever anything is unusual (other layouts, ``-DOCSTART-``, a line without exactly one tab,
    whitespace inside a token or around a tag, an invalid tag), and the line-by-line parser then reads the file
    and reports the exact problem. Hand-written because this is the hot path of loading (pyarrow's CSV reader
    drops the blank lines that separate sentences).
    """
    first = text.lstrip("\n").split("\n", 1)[0]
    if first.count("\t") != 1 or "-DOCSTART-" in text or (prefixes_possible and _LANG_PREFIX.match(first)):
        return None
    if _BLANK_TOKEN.search(text) or _TWO_TABS.search(text) or _INNER_SPACE.search(text):
        return None
    blocks = _fast_blocks(text)
    if blocks is None:
        return None
    tokens, tags = blocks
    seen: set[str] = set()
    for tg in tags:
        seen.update(tg)
    if any(t != "O" and (len(t) < 3 or t[1] != "-" or t[0] not in "BI") for t in seen):
        return None
    if _BAD_I.search("\n".join(" ".join(tg) for tg in tags)):
        return None
    if label_set is None:
        label_set = infer_label_set({t[2:] for t in seen if t != "O"})
    elif not seen <= set(label_set.labels):
        return None
    return ParsedFile(path, tokens, tags, None, label_set, columns=2)


def write_conll(tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], path: str | Path) -> Path:
    """Write sentences as ``token<TAB>tag`` lines with a blank line after each sentence (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(tokens) != len(tags):
        raise LabelError(f"{path}: {len(tokens)} token sentences but {len(tags)} tag sentences")
    parts: list[str] = []
    for i, (toks, tg) in enumerate(zip(tokens, tags, strict=True)):
        if len(toks) != len(tg):
            raise LabelError(f"{path}: sentence {i} has {len(toks)} tokens but {len(tg)} tags")
        if not toks:
            raise LabelError(f"{path}: sentence {i} has no tokens; a CoNLL file cannot hold an empty sentence")
        for tok, tag in zip(toks, tg, strict=True):
            if not tok or any(c.isspace() for c in tok):  # the reader refuses such tokens: never write them
                raise LabelError(f"{path}: sentence {i}: token {tok!r} cannot be written (empty, or holds whitespace)")
            parts.append(f"{tok}\t{tag}\n")
        parts.append("\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path
