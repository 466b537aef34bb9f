"""Bilingual dictionaries for code-switching: FreeDict (Debian ``dict-freedict-*``) and user TSV files.

FreeDict databases are installed by Debian's ``dict-freedict-<src>-<tgt>`` packages as
``/usr/share/dictd/freedict-<src>-<tgt>.{index,dict.dz}`` with ISO 639-3 codes (``por``, ``spa``, ``swh``).
No maintained Python library reads the dictd format (PyGlossary does, as a large application), and the
format is small, so it is read here: the ``.dict.dz`` is dictzip, i.e. gzip-compatible, and each ``.index``
line is ``headword<TAB>offset<TAB>length`` with offsets in dictd's base64 digits. An entry's first line is the
headword (with ``/pronunciation/`` and ``<part of speech>``); the following lines hold translations,
comma-separated, optionally numbered by sense (``1. ...``); notes in parentheses, cross-references (``{...}``)
and labelled lines (``See also: ...``) are not translations and are skipped (and counted).

Languages are matched to the project's codes with ``langcodes`` (``por`` → ``pt``, ``swh`` → ``sw`` through
its macrolanguage), so no second language table is kept here.
"""

from __future__ import annotations

import gzip
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from xner.projection.translate import ApertiumTranslator, TranslatorNotInstalledError, UnsupportedPairError

DICTD_DIR = Path("/usr/share/dictd")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64)}
_FREEDICT_FILE = re.compile(r"^freedict-([a-z]{3})-([a-z]{3})\.index$")


class DictionaryError(ValueError):
    """A dictionary file is malformed (the message names the file and line)."""


class DictionaryNotFound(LookupError):
    """No bilingual dictionary for the requested language pair is installed."""


def dictd_dir() -> Path:
    """Folder of dictd databases: ``XNER_DICTD_DIR`` or ``/usr/share/dictd``."""
    return Path(os.environ.get("XNER_DICTD_DIR", DICTD_DIR))


def decode_b64_number(text: str) -> int:
    """Decode a dictd base64 number (``"BBB"`` → 4161)."""
    value = 0
    for ch in text:
        if ch not in _B64_INDEX:
            raise ValueError(f"{text!r} is not a dictd base64 number")
        value = value * 64 + _B64_INDEX[ch]
    return value


def project_code(code: str) -> str:
    """A dictionary's language code as the project writes it (``por`` → ``pt``, ``swh`` → ``sw``)."""
    import langcodes

    return langcodes.standardize_tag(code, macro=True)


@dataclass
class BilingualDictionary:
    """Word translations ``src`` → ``tgt``: case-folded headword → translations in dictionary order."""

    src: str
    tgt: str
    entries: dict[str, tuple[str, ...]]
    provenance: str = ""
    skipped: Counter = field(default_factory=Counter)

    def translations(self, word: str) -> tuple[str, ...]:
        """Translations of ``word`` (looked up case-folded); empty when it has none."""
        return self.entries.get(word.casefold(), ())

    def __len__(self) -> int:
        return len(self.entries)

    def describe(self) -> str:
        """Short provenance line: pair, size and source."""
        return f"{self.src}→{self.tgt} dictionary, {len(self.entries)} headwords ({self.provenance})"

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[str, str]], src: str, tgt: str, provenance: str = "pairs"
    ) -> BilingualDictionary:
        """Build from ``(word, translation)`` pairs (repeated words gather several translations, in order)."""
        entries: dict[str, list[str]] = {}
        for word, trans in pairs:
            lst = entries.setdefault(word.strip().casefold(), [])
            if trans.strip() and trans.strip() not in lst:
                lst.append(trans.strip())
        return cls(src, tgt, {k: tuple(v) for k, v in entries.items() if v and k}, provenance)

    @classmethod
    def from_tsv(cls, path: str | Path, src: str, tgt: str) -> BilingualDictionary:
        """Read ``word<TAB>translation[<TAB>translation...]`` lines (``#`` comments and blank lines allowed)."""
        path = Path(path)
        pairs: list[tuple[str, str]] = []
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\n").rstrip("\r")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                cols = line.split("\t")
                if len(cols) < 2 or not cols[0].strip() or not any(c.strip() for c in cols[1:]):
                    raise DictionaryError(f"{path}:{lineno}: expected 'word<TAB>translation', got {line!r}")
                pairs += [(cols[0], c) for c in cols[1:] if c.strip()]
        if not pairs:
            raise DictionaryError(f"{path}: no entries")
        return cls.from_pairs(pairs, src, tgt, provenance=str(path))

    @classmethod
    def from_freedict(
        cls, index_path: str | Path, src: str | None = None, tgt: str | None = None
    ) -> BilingualDictionary:
        """Read a FreeDict/dictd database (``.index`` plus ``.dict.dz`` or ``.dict`` beside it)."""
        index_path = Path(index_path)
        stem = index_path.name[: -len(".index")]
        data_path = next(
            (index_path.with_name(stem + s) for s in (".dict.dz", ".dict") if index_path.with_name(stem + s).is_file()),
            None,
        )
        if data_path is None:
            raise DictionaryError(f"{index_path}: no {stem}.dict.dz or {stem}.dict beside it")
        m = _FREEDICT_FILE.match(index_path.name)
        src = src or (project_code(m.group(1)) if m else None)
        tgt = tgt or (project_code(m.group(2)) if m else None)
        if src is None or tgt is None:
            raise DictionaryError(f"{index_path}: name is not freedict-<src>-<tgt>.index; give src= and tgt=")
        raw = gzip.open(data_path).read() if data_path.suffix == ".dz" else data_path.read_bytes()
        entries: dict[str, list[str]] = {}
        skipped: Counter = Counter()
        with index_path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3:
                    raise DictionaryError(f"{index_path}:{lineno}: expected 'headword<TAB>offset<TAB>length'")
                if parts[0].startswith("00database") or parts[0].startswith("00-database"):
                    continue
                try:
                    start, length = decode_b64_number(parts[1]), decode_b64_number(parts[2])
                except ValueError as exc:
                    raise DictionaryError(f"{index_path}:{lineno}: {exc}") from None
                text = raw[start : start + length].decode("utf-8", errors="strict")
                head, trans = parse_entry(text, skipped)
                if head and trans:
                    lst = entries.setdefault(head.casefold(), [])
                    lst.extend(t for t in trans if t not in lst)
                elif head:
                    skipped["entry without translation"] += 1
        return cls(
            src, tgt, {k: tuple(v) for k, v in entries.items()}, provenance=f"FreeDict {index_path}", skipped=skipped
        )


_PRON = re.compile(r"/[^/]*/")
_POS = re.compile(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}")
_PAREN = re.compile(r"\([^)]*\)")
_SENSE = re.compile(r"^\s*\d+\.\s*")
_LABEL = re.compile(r"^\s*[A-Za-z][A-Za-z ]*:\s")


def parse_entry(text: str, skipped: Counter) -> tuple[str, list[str]]:
    """Parse one dictd entry into (headword, translations), counting skipped lines by kind in ``skipped``."""
    lines = [ln for ln in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return "", []
    head = _PAREN.sub(" ", _POS.sub(" ", _PRON.sub(" ", lines[0])))
    head = " ".join(head.split())
    out: list[str] = []
    for ln in lines[1:]:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("(") and s.endswith(")"):
            skipped["note line"] += 1
            continue
        if "{" in s or "}" in s:
            skipped["cross-reference line"] += 1
            continue
        if _LABEL.match(s):
            skipped["labelled line"] += 1
            continue
        s = _PAREN.sub(" ", _SENSE.sub("", s))
        for piece in re.split(r"[,;]", s):
            piece = " ".join(piece.split())
            if piece and piece not in out:
                out.append(piece)
    return head, out


def installed_freedict(folder: str | Path | None = None) -> list[tuple[str, str, Path]]:
    """Installed FreeDict databases as ``(src, tgt, index_path)`` with project language codes."""
    folder = Path(folder) if folder is not None else dictd_dir()
    out = []
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            m = _FREEDICT_FILE.match(p.name)
            if m:
                out.append((project_code(m.group(1)), project_code(m.group(2)), p))
    return out


def find_freedict(src: str, tgt: str, folder: str | Path | None = None) -> Path:
    """The index file of the installed FreeDict dictionary ``src`` → ``tgt`` (project codes, e.g. ``pt``, ``es``).

    Raises :class:`DictionaryNotFound` naming the installed dictionaries and the Debian package pattern.
    """
    found = installed_freedict(folder)
    for s, t, path in found:
        if (s, t) == (src, tgt):
            return path
    have = ", ".join(f"{s}→{t}" for s, t, _ in found) or "none"
    raise DictionaryNotFound(
        f"no FreeDict dictionary {src}→{tgt} in {folder or dictd_dir()} (installed: {have}); install one with "
        f"'apt-get install dict-freedict-<src>-<tgt>' (ISO 639-3 codes, e.g. dict-freedict-por-spa) or give a TSV "
        f"dictionary"
    )


def apertium_dictionary(words: Iterable[str], src: str, tgt: str) -> BilingualDictionary:
    """A dictionary made by translating ``words`` one by one with the installed Apertium pair ``src``→``tgt``.

    Apertium runs once on all words (one per line) *with* its unknown-word marks; a word is kept when its
    translation carries no mark (``*`` unknown, ``@`` not in the bilingual dictionary, ``#`` not generated),
    is a single line of letters, and differs from the word (case-folded). Dropped words are counted in
    ``skipped`` by reason. Give the words of the text to perturb (e.g. the target's training vocabulary).
    """
    import subprocess

    try:
        mode = ApertiumTranslator().mode(src, tgt)
        ApertiumTranslator().check_pair(src, tgt)
    except (UnsupportedPairError, TranslatorNotInstalledError) as err:
        raise DictionaryNotFound(f"no Apertium dictionary {src}→{tgt}: {err}") from None
    uniq = sorted({w.strip().casefold() for w in words if w.strip() and "\n" not in w})
    if not uniq:
        raise DictionaryError("no words to translate into a dictionary")
    proc = subprocess.run(["apertium", mode], input="\n".join(uniq) + "\n", capture_output=True, text=True)
    out = proc.stdout.rstrip("\n").split("\n")
    if proc.returncode != 0 or len(out) != len(uniq):
        raise RuntimeError(
            f"apertium {mode} failed or returned {len(out)} lines for {len(uniq)} words: {proc.stderr[:300]}"
        )
    pairs, skipped = [], Counter()
    for word, trans in zip(uniq, out, strict=True):
        trans = " ".join(trans.split())
        if re.search(r"[*@#]", trans):
            skipped["unknown to apertium"] += 1
        elif trans.casefold() == word or not trans:
            skipped["identical translation"] += 1
        elif not all(unicodedata.category(ch)[0] in "LM" or ch in " -'" for ch in trans):  # letters, marks
            skipped["not a word"] += 1
        else:
            pairs.append((word, trans))
    d = BilingualDictionary.from_pairs(pairs, src, tgt, provenance=f"Apertium {mode}, {len(uniq)} words translated")
    d.skipped = skipped
    return d


def load_dictionary(
    spec: str | Path | BilingualDictionary, src: str, tgt: str, *, words: Iterable[str] | None = None
) -> BilingualDictionary:
    """Resolve a dictionary spec: a :class:`BilingualDictionary`, ``"freedict"`` (find ``src``→``tgt``),
    ``"freedict:<path to .index>"``, ``"apertium"`` (:func:`apertium_dictionary` of ``words``), ``"auto"``
    (FreeDict when one is installed for the pair, else Apertium; the provenance says which), or a TSV path."""
    if isinstance(spec, BilingualDictionary):
        return spec
    text = str(spec)
    if text == "auto":
        try:
            return BilingualDictionary.from_freedict(find_freedict(src, tgt), src, tgt)
        except DictionaryNotFound as err:
            if words is None:
                raise DictionaryNotFound(f"{err} — and no words were given to build an Apertium dictionary") from None
            return apertium_dictionary(words, src, tgt)
    if text == "apertium":
        if words is None:
            raise DictionaryError("an Apertium dictionary needs the words to translate (words=...)")
        return apertium_dictionary(words, src, tgt)
    if text == "freedict":
        return BilingualDictionary.from_freedict(find_freedict(src, tgt), src, tgt)
    if text.startswith("freedict:"):
        return BilingualDictionary.from_freedict(text.split(":", 1)[1])
    path = Path(text)
    if not path.is_file():
        raise DictionaryNotFound(f"dictionary file {path} does not exist")
    return BilingualDictionary.from_tsv(path, src, tgt)
