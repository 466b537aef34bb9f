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

from xner.labels import SCHEMES, LabelError, LabelSet, convert_scheme, infer_label_set, validate_iob2

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
        repair: turn an ``I-X`` that does not continue an ``X`` entity into ``B-X`` (counted in ``repaired``)
            instead of raising.
        lang_prefix: strip ``lang:`` prefixes from tokens; ``None`` detects them from the first token.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise DataFormatError(f"{path}: unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw[: exc.start].count(b"\n") + 1
        raise _err(
            path, lineno, f"not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start}); convert the file to UTF-8"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if scheme == "IOB2" and not lang_prefix:
        fast = _fast_parse(path, text, label_set)
        if fast is not None:
            return fast
    lines = text.split("\n")

    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    langs: list[list[str]] | None = None
    starts: list[int] = []  # line number of each sentence's first token
    cur_tok: list[str] = []
    cur_tag: list[str] = []
    cur_lang: list[str] = []
    ncols = 0
    use_tab = True
    docstarts = 0
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line.strip():
            if cur_tok:
                tokens.append(cur_tok)
                tags.append(cur_tag)
                if langs is not None:
                    langs.append(cur_lang)
                cur_tok, cur_tag, cur_lang = [], [], []
            continue
        if line.startswith("-DOCSTART-"):
            docstarts += 1
            continue
        if ncols == 0:
            use_tab = "\t" in line
        cols = line.split("\t") if use_tab else line.split()
        if ncols == 0:
            ncols = len(cols)
            if ncols < 2:
                raise _err(path, lineno, f"expected 'token<TAB>tag' or 'token tag' columns, got {line!r}")
            if lang_prefix is None:
                lang_prefix = bool(_LANG_PREFIX.match(cols[0]))
            if lang_prefix:
                langs = []
        elif len(cols) != ncols:
            sep = "tab" if use_tab else "whitespace"
            raise _err(
                path,
                lineno,
                f"expected {ncols} {sep}-separated columns like the file's first line, got {len(cols)}: {line!r}",
            )
        tok, tag = cols[0], cols[-1].strip()
        if not tok.strip():
            raise _err(path, lineno, f"empty token in {line!r}")
        if not tag:
            raise _err(path, lineno, f"empty tag in {line!r}")
        if lang_prefix:
            m = _LANG_PREFIX.match(tok)
            if not m:
                raise _err(path, lineno, f"expected a 'lang:token' prefix like the file's first line, got {tok!r}")
            cur_lang.append(m.group(1))
            tok = m.group(2)
        if not cur_tok:
            starts.append(lineno)
        cur_tok.append(tok)
        cur_tag.append(tag)
    if cur_tok:
        tokens.append(cur_tok)
        tags.append(cur_tag)
        if langs is not None:
            langs.append(cur_lang)
    if not tokens:
        raise DataFormatError(f"{path}: empty file: no sentences (expected one 'token<TAB>tag' per line)")

    # Tags: check the scheme, convert to IOB2, check against the label set.
    repaired = 0
    allowed = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}[scheme]
    types: dict[str, None] = {}
    for si, sent in enumerate(tags):
        for wi, tag in enumerate(sent):
            if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in allowed):
                raise _err(
                    path, starts[si] + wi, f"tag {tag!r} is not a {scheme} tag (expected O or {'/'.join(allowed)}-TYPE)"
                )
            if tag != "O":
                types.setdefault(tag[2:], None)
        if scheme != "IOB2":
            tags[si] = convert_scheme(sent, scheme, "IOB2")
            continue
        problems = validate_iob2(sent)
        if problems:
            if not repair:
                p = problems[0]
                raise _err(
                    path, starts[si] + p.position, f"invalid IOB2: {p.message} (pass repair=True to turn it into B-)"
                )
            for p in problems:
                sent[p.position] = "B-" + p.tag[2:]
                repaired += 1
    if label_set is None:
        label_set = infer_label_set(types)
    else:
        allowed_labels = set(label_set.labels)
        for si, sent in enumerate(tags):
            for wi, tag in enumerate(sent):
                if tag not in allowed_labels:
                    raise _err(
                        path,
                        starts[si] + wi,
                        f"tag {tag!r} is not in label set {label_set.name} ({' '.join(label_set.labels)})",
                    )
    return ParsedFile(path, tokens, tags, langs, label_set, docstarts=docstarts, repaired=repaired, columns=ncols)


_BLANK_TOKEN = re.compile(r"^[^\S\n]*\t", re.MULTILINE)
_BLANKS = re.compile(r"\n(?:[ \t\r]*\n)+")
# An I- tag at a sentence start, after O, or after a tag of another type (tags joined by spaces, one sentence
# per line): exactly the positions validate_iob2 reports.
_BAD_I = re.compile(r"(?:^|(?<=O ))I-|[BI]-(\S+) I-(?!\1(?: |$))", re.MULTILINE)


def _fast_parse(path: Path, text: str, label_set: LabelSet | None) -> ParsedFile | None:
    """Parse the common case — two tab-separated columns, valid IOB2, no prefixes — with C-level string work.

    Returns ``None`` whenever anything is unusual (other layouts, ``-DOCSTART-``, a malformed or invalid line),
    and the line-by-line parser then reads the file and reports the exact problem. Hand-written because this
    is the hot path of loading (pyarrow's CSV reader drops the blank lines that separate sentences).
    """
    first = text.lstrip("\r\n").split("\n", 1)[0]
    if "\t" not in first or first.count("\t") != 1 or "-DOCSTART-" in text or "\r" in text or _LANG_PREFIX.match(first):
        return None
    if _BLANK_TOKEN.search(text):
        return None
    blocks = _BLANKS.split(text.strip("\n"))
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    for block in blocks:
        if not block:
            continue
        parts = block.replace("\n", "\t").split("\t")
        n = block.count("\n") + 1
        if len(parts) != 2 * n:
            return None
        toks, tg = parts[0::2], parts[1::2]
        if "" in toks or "" in tg:
            return None
        tokens.append(toks)
        tags.append(tg)
    if not tokens:
        return None
    seen: set[str] = set()
    for tg in tags:
        seen.update(tg)
    if any(t != "O" and (len(t) < 3 or t[1] != "-" or t[0] not in "BI" or t != t.strip()) for t in seen):
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
            if not tok or "\t" in tok or "\n" in tok:
                raise LabelError(
                    f"{path}: sentence {i}: token {tok!r} cannot be written (empty, or holds a tab/newline)"
                )
            parts.append(f"{tok}\t{tag}\n")
        parts.append("\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path
