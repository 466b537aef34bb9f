"""Translators behind one interface, a disk cache of translations, and word tokenization of their output.

* :class:`IdentityTranslator` — data that is already parallel (the "translation" is given).
* :class:`ApertiumTranslator` — rule-based, offline (Debian packages ``apertium`` and a pair package such
  as ``apertium-eng-spa``). In markup mode it translates HTML and keeps inline ``<b>…</b>`` tags, which
  mark-then-translate uses.
* :class:`NLLBTranslator` — NLLB-200 through ``transformers`` (needs the Hugging Face hub or a local copy);
  it also scores translations (:meth:`NLLBTranslator.mean_log_prob`) for candidate matching.

Every translator caches its output on disk keyed by ``(translator key, "src-tgt", text)`` in
``xner.config.cache_dir()/translations.sqlite``; the key names the system and its settings, so two
settings never share entries.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import sqlite3
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import regex

from xner.config import cache_dir


class TranslatorNotInstalledError(RuntimeError):
    """A translator's software is missing; the message says what to install."""


class UnsupportedPairError(ValueError):
    """The translator cannot translate this language pair; the message says what would."""


# ----------------------------------------------------------------------------------------------------------
# word tokenization

# `regex`, not `re`: a word is letters *and combining marks* (\p{M}). With `re`'s \w the vowel signs and viramas of
# Devanagari (and Arabic harakat, Thai vowels …) split words apart: Apertium's untranslated Hindi words came back
# as one token per letter and sign, which broke projection and translate-train on hi↔ur.
_TOKEN = regex.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,:/]\d+)*|[\w\p{M}]+(?:[-'’][\w\p{M}]+)*|[^\w\s\p{M}]")
_NO_SPACE_BEFORE = set(",.;:!?)]}%»”")
_NO_SPACE_AFTER = set("([{¿¡«“")


def tokenize(text: str) -> list[str]:
    """Split text into words and punctuation marks (Europarl/CoNLL style: ``"(Madrid)."`` → 4 tokens).

    Numbers keep their separators (``1.000,5``), words their inner hyphens and apostrophes and combining marks
    (Devanagari vowel signs, Arabic harakat), and dotted initials stay whole (``R.H.``, ``U.S.``).
    """
    return _TOKEN.findall(text)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens into text with ordinary spacing around punctuation (the inverse of :func:`tokenize`)."""
    out = ""
    for tok in tokens:
        if out and not (tok in _NO_SPACE_BEFORE or out[-1] in _NO_SPACE_AFTER):
            out += " "
        out += tok
    return out


# ----------------------------------------------------------------------------------------------------------
# disk cache


class TranslationCache:
    """An sqlite table of translations keyed by ``(translator, pair, text)``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else cache_dir() / "translations.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS translations (translator TEXT, pair TEXT, text TEXT, translation TEXT, "
                "PRIMARY KEY (translator, pair, text))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, translator: str, pair: str, texts: Sequence[str]) -> dict[str, str]:
        """Cached translations of those ``texts`` that are in the cache."""
        found: dict[str, str] = {}
        uniq = list(dict.fromkeys(texts))
        with self._connect() as db:
            for start in range(0, len(uniq), 500):
                chunk = uniq[start : start + 500]
                rows = db.execute(
                    f"SELECT text, translation FROM translations WHERE translator=? AND pair=? AND text IN "
                    f"({','.join('?' * len(chunk))})",
                    [translator, pair, *chunk],
                ).fetchall()
                found.update(rows)
        return found

    def put(self, translator: str, pair: str, items: dict[str, str]) -> None:
        """Store translations (replacing older entries for the same key)."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?)",
                [(translator, pair, k, v) for k, v in items.items()],
            )


# ----------------------------------------------------------------------------------------------------------
# translators


class Translator(ABC):
    """Translate texts from ``src`` to ``tgt`` (ISO 639-1 codes such as ``"en"``), with a disk cache.

    Subclasses implement :meth:`_translate` (uncached) and :meth:`check_pair`; ``markup=True`` asks for a
    translation that keeps the inline marks :attr:`open_mark` / :attr:`close_mark` around spans.
    """

    name: str = "translator"
    open_mark: str = "["
    close_mark: str = "]"
    use_cache: bool = True

    @property
    def key(self) -> str:
        """The cache key of this translator and its settings."""
        return self.name

    @abstractmethod
    def check_pair(self, src: str, tgt: str) -> None:
        """Raise :class:`UnsupportedPairError` (or :class:`TranslatorNotInstalledError`) if unusable."""

    @abstractmethod
    def _translate(self, texts: list[str], src: str, tgt: str, markup: bool) -> list[str]:
        """Translate without the cache; must return exactly one output per input."""

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, markup: bool = False) -> list[str]:
        """Translate each text (cached). Empty texts are refused: they have no translation."""
        for k, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"text {k} is empty; every text to translate must hold words")
        self.check_pair(src, tgt)
        if not texts:
            return []
        key = self.key + (":markup" if markup else "")
        pair = f"{src}-{tgt}"
        cache = TranslationCache() if self.use_cache else None
        found = cache.get(key, pair, texts) if cache else {}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            out = self._translate(missing, src, tgt, markup)
            if len(out) != len(missing):
                raise RuntimeError(f"{self.name} returned {len(out)} translations for {len(missing)} texts")
            new = dict(zip(missing, out, strict=True))
            if cache:
                cache.put(key, pair, new)
            found.update(new)
        return [found[t] for t in texts]

    def translate_tokens(self, sentences: Sequence[Sequence[str]], src: str, tgt: str) -> list[list[str]]:
        """Translate tokenized sentences and tokenize the output with :func:`tokenize`."""
        texts = [detokenize(s) for s in sentences]
        return [tokenize(t) for t in self.translate(texts, src, tgt)]


@dataclass
class IdentityTranslator(Translator):
    """For data that is already parallel: returns the given target texts.

    ``targets`` maps each source text to its (human) translation; asking for a text it does not hold is an
    error, never a silent pass-through.
    """

    targets: dict[str, str] = field(default_factory=dict)
    name: str = "identity"
    use_cache: bool = False

    def check_pair(self, src: str, tgt: str) -> None:
        """Any pair: the translations are given."""

    def _translate(self, texts: list[str], src: str, tgt: str, markup: bool) -> list[str]:
        missing = [t for t in texts if t not in self.targets]
        if missing:
            raise KeyError(f"identity translator holds no translation for {len(missing)} texts, e.g. {missing[0]!r}")
        return [self.targets[t] for t in texts]


#: ISO 639-1 → the ISO 639-3 codes Apertium names its modes with (only the ones the project meets).
APERTIUM_CODES = {
    "en": "eng",
    "es": "spa",
    "ca": "cat",
    "pt": "por",
    "fr": "fra",
    "it": "ita",
    "de": "deu",
    "nl": "nld",
    "af": "afr",
    "oc": "oci",
    "an": "arg",
    "ast": "ast",
    "gl": "glg",
    "eu": "eus",
    "cy": "cym",
    "br": "bre",
    "ro": "ron",
    "sc": "srd",
    "mt": "mlt",
    "kk": "kaz",
    "tt": "tat",
    "ru": "rus",
    "uk": "ukr",
    "be": "bel",
    "id": "ind",
    "ms": "zlm",
    "sv": "swe",
    "da": "dan",
    "nb": "nob",
    "nn": "nno",
    "is": "isl",
    "hi": "hin",
    "ur": "urd",
    "tr": "tur",
    "az": "aze",
    "cs": "ces",
    "sk": "slk",
    "pl": "pol",
    "bg": "bul",
    "mk": "mkd",
    "sh": "hbs",
    "fi": "fin",
    "et": "est",
    "sw": "swa",
    "ar": "ara",
    "mr": "mar",
}


@cache
def apertium_modes() -> tuple[str, ...]:
    """The translation modes of the installed Apertium (``apertium -l``), e.g. ``("eng-spa", "spa-eng")``."""
    exe = shutil.which("apertium")
    if exe is None:
        raise TranslatorNotInstalledError(
            "Apertium is not installed: apt-get install apertium apertium-eng-spa (one package per language pair; "
            "apt-cache search apertium lists them)"
        )
    out = subprocess.run([exe, "-l"], capture_output=True, text=True, check=True).stdout
    return tuple(line.strip() for line in out.splitlines() if line.strip())


def apertium_available() -> bool:
    """True when the ``apertium`` command is on the PATH."""
    return shutil.which("apertium") is not None


_APERTIUM_MARK = re.compile(r"(?<![\w<])[*#@](?=\w)")


@dataclass
class ApertiumTranslator(Translator):
    """Apertium (rule-based MT, offline). Unknown words are copied (their ``*``/``#``/``@`` marks removed).

    With ``markup=True`` the text is translated as HTML (``apertium -f html``): spans wrapped in
    ``<b>…</b>`` keep their tags, which move with the words they surround.
    """

    name: str = "apertium"
    open_mark: str = "<b>"
    close_mark: str = "</b>"
    timeout: float = 600.0

    def mode(self, src: str, tgt: str) -> str:
        """The Apertium mode name of an ISO 639-1 pair: ``eng-spa`` (ISO 639-3 codes), or the ISO 639-1 form
        (``es-pt``, as the older apertium-es-pt names its modes) when only that one is installed."""
        try:
            iso3 = f"{APERTIUM_CODES[src]}-{APERTIUM_CODES[tgt]}"
        except KeyError as err:
            raise UnsupportedPairError(
                f"no Apertium language code known for {err.args[0]!r}; known: {sorted(APERTIUM_CODES)}"
            ) from None
        iso1 = f"{src}-{tgt}"
        if apertium_available() and iso3 not in apertium_modes() and iso1 in apertium_modes():
            return iso1
        return iso3

    def check_pair(self, src: str, tgt: str) -> None:
        """Raise unless an Apertium mode for ``src-tgt`` is installed (saying which package gives it)."""
        mode = self.mode(src, tgt)
        modes = apertium_modes()
        if mode not in modes:
            a, b = mode.split("-")
            raise UnsupportedPairError(
                f"Apertium has no {mode} mode installed (installed: {', '.join(modes) or 'none'}); "
                f"install the Debian package apertium-{a}-{b} or apertium-{b}-{a} if it exists "
                "(apt-cache search apertium)"
            )

    def _translate(self, texts: list[str], src: str, tgt: str, markup: bool) -> list[str]:
        mode = self.mode(src, tgt)
        lines = [" ".join(t.split()) for t in texts]  # one text per line: no newlines inside a text
        cmd = ["apertium", "-u"] + (["-f", "html"] if markup else []) + [mode]
        proc = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=self.timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        out = proc.stdout.rstrip("\n").split("\n")
        if len(out) != len(lines):
            raise RuntimeError(f"apertium returned {len(out)} lines for {len(lines)} input lines")
        return [_APERTIUM_MARK.sub("", line).strip() for line in out]

    def translate_marked(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate texts holding ``<b>…</b>`` marks (other characters are HTML-escaped and restored)."""
        return self.translate(texts, src, tgt, markup=True)


#: ISO 639-1 → NLLB-200 (FLORES-200) codes for the languages of configs/languages.yaml.
NLLB_CODES = {
    "en": "eng_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "de": "deu_Latn",
    "it": "ita_Latn",
    "pt": "por_Latn",
    "nl": "nld_Latn",
    "af": "afr_Latn",
    "ar": "arb_Arab",
    "fa": "pes_Arab",
    "hi": "hin_Deva",
    "ur": "urd_Arab",
    "mr": "mar_Deva",
    "id": "ind_Latn",
    "ms": "zsm_Latn",
    "jv": "jav_Latn",
    "tr": "tur_Latn",
    "az": "azj_Latn",
    "ru": "rus_Cyrl",
    "kk": "kaz_Cyrl",
    "fi": "fin_Latn",
    "et": "est_Latn",
    "sw": "swh_Latn",
    "yo": "yor_Latn",
    "cy": "cym_Latn",
    "ca": "cat_Latn",
    "cs": "ces_Latn",
    "sk": "slk_Latn",
    "oc": "oci_Latn",
    "scn": "scn_Latn",
    "ast": "ast_Latn",
}


@dataclass
class NLLBTranslator(Translator):
    """NLLB-200 through ``transformers`` (beam search). Needs the Hugging Face hub or a local copy."""

    model: str = "facebook/nllb-200-distilled-600M"
    num_beams: int = 4
    max_new_tokens: int = 256
    batch_size: int = 8
    device: str = "cpu"
    name: str = "nllb"
    _tok: object = field(default=None, init=False, repr=False)
    _mt: object = field(default=None, init=False, repr=False)

    @property
    def key(self) -> str:
        """Cache key: model and decoding settings."""
        return f"nllb:{self.model}:beams={self.num_beams}:max={self.max_new_tokens}"

    def code(self, lang: str) -> str:
        """The NLLB code of an ISO 639-1 language."""
        if lang not in NLLB_CODES:
            raise UnsupportedPairError(f"no NLLB-200 code known for {lang!r}; known: {sorted(NLLB_CODES)}")
        return NLLB_CODES[lang]

    def check_pair(self, src: str, tgt: str) -> None:
        """Raise unless both languages have NLLB codes and transformers is installed."""
        self.code(src), self.code(tgt)
        if importlib.util.find_spec("transformers") is None:
            raise TranslatorNotInstalledError("NLLB needs transformers and torch: pip install transformers torch")

    def _load(self) -> None:
        if self._mt is not None:
            return
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self._tok = AutoTokenizer.from_pretrained(self.model)
            self._mt = AutoModelForSeq2SeqLM.from_pretrained(self.model).to(self.device).eval()
        except OSError as err:
            raise OSError(
                f"cannot load {self.model!r}: NLLB needs the Hugging Face hub or a local copy of the model. "
                "Offline, use ApertiumTranslator (apt-get install apertium apertium-eng-spa)."
            ) from err

    def _translate(self, texts: list[str], src: str, tgt: str, markup: bool) -> list[str]:
        import torch

        self._load()
        self._tok.src_lang = self.code(src)
        bos = self._tok.convert_tokens_to_ids(self.code(tgt))
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            enc = self._tok(batch, return_tensors="pt", padding=True, truncation=True).to(self.device)
            with torch.inference_mode():
                gen = self._mt.generate(
                    **enc, forced_bos_token_id=bos, num_beams=self.num_beams, max_new_tokens=self.max_new_tokens
                )
            out.extend(self._tok.batch_decode(gen, skip_special_tokens=True))
        return out

    def mean_log_prob(self, sources: Sequence[str], targets: Sequence[str], src: str, tgt: str) -> list[float]:
        """Mean log-probability per target token of each target given its source (teacher forcing)."""
        import torch

        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        self.check_pair(src, tgt)
        self._load()
        self._tok.src_lang, self._tok.tgt_lang = self.code(src), self.code(tgt)
        out: list[float] = []
        for start in range(0, len(sources), self.batch_size):
            s = list(sources[start : start + self.batch_size])
            t = list(targets[start : start + self.batch_size])
            enc = self._tok(s, text_target=t, return_tensors="pt", padding=True, truncation=True).to(self.device)
            labels = enc.pop("labels")
            labels[labels == self._tok.pad_token_id] = -100
            with torch.inference_mode():
                logits = self._mt(**enc, labels=labels).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
            mask = labels != -100
            tok_lp = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
            out.extend((tok_lp.sum(-1) / mask.sum(-1).clamp(min=1)).tolist())
        return out


def parallel_by_translation(
    sentences: Sequence[Sequence[str]], translator: Translator, src: str, tgt: str
) -> tuple[list[list[str]], list[list[str]], int]:
    """Machine-made parallel text: each sentence with its translation, tokenized (extra text for eflomal).

    Returns ``(source tokens, target tokens, n_empty)``; pairs whose translation is empty are left out and
    counted in ``n_empty``.
    """
    translated = translator.translate_tokens(sentences, src, tgt)
    keep = [(list(s), t) for s, t in zip(sentences, translated, strict=True) if s and t]
    return [s for s, _ in keep], [t for _, t in keep], len(sentences) - len(keep)


def get_translator(name: str, **kwargs: object) -> Translator:
    """Build a translator by name: ``identity``, ``apertium`` or ``nllb``."""
    table = {"identity": IdentityTranslator, "apertium": ApertiumTranslator, "nllb": NLLBTranslator}
    if name not in table:
        raise ValueError(f"unknown translator {name!r}; expected one of {sorted(table)}")
    return table[name](**kwargs)


def escape_markup(text: str) -> str:
    """HTML-escape text that goes into markup-mode translation (``<``, ``>``, ``&``)."""
    return html.escape(text, quote=False)


def unescape_markup(text: str) -> str:
    """Undo :func:`escape_markup` on translated text."""
    return html.unescape(text)
