"""Context-word replacement: context words seen in source training → target words that are not.

Two perturbations live here, under their own names:

* ``context_replacement`` — :class:`PublishedContextReplacement`, P2 of Manafi & Krishnaswamy (2024) as their
  reference code does it: only ``O``-words that are not stopwords (stopwordsiso), hold no punctuation and are
  longer than one character; **every** such word seen in source training replaced by its nearest target test
  word (cosine of the evaluated encoder's representation of the word alone) that source training does not hold.
* ``context_band`` — :class:`ContextReplacement`, this project's earlier variant: every context word (tag ``O``,
  letters only, stopwords included) of the test set that also occurs in the source training data is replaced,
  with probability ``rate`` (0.5), by a word of a target corpus (typically the target training split) outside
  the source vocabulary. Most of what it replaces are function words (72 % id→ms, 74 % nl→af of its eligible
  tokens are stopwords P2 excludes) — a different, stronger perturbation than P2.

``context_band``'s choice of word: with word vectors given (:class:`WordVectors` accepts a mapping word → vector,
a callable returning a vector or ``None``, or a ``(words, matrix)`` pair), the candidate nearest by cosine
similarity (or one of the ``top_k`` nearest, drawn by the seeded generator); a word without a vector is left
alone and counted. Without vectors, a candidate of the same frequency band — bands are ``floor(log2(count + 1))``
of counts in the target corpus — and, when that band has no candidate, of the nearest band that has one
(counted as ``ops["band_widened"]``).
"""

from __future__ import annotations

import math
import random
import string
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xner.data import tag_names
from xner.robustness.perturb.base import (
    Perturbation,
    PerturbationReport,
    PerturbationUnavailable,
    Tags,
    Tokens,
    is_word,
    match_case,
)

if TYPE_CHECKING:
    import datasets


class WordVectors:
    """A uniform view of word vectors: ``vectors(word) -> np.ndarray | None``.

    Accepts a mapping (dict, gensim ``KeyedVectors`` and the like: anything with ``__contains__`` and
    ``__getitem__``), a callable returning a vector or ``None`` for unknown words, or a pair
    ``(words, matrix)`` whose row ``i`` is the vector of ``words[i]``.
    """

    def __init__(self, source: Any) -> None:
        if isinstance(source, WordVectors):
            self._get: Callable[[str], Any] = source._get
            return
        if isinstance(source, tuple) and len(source) == 2:
            words, matrix = source
            matrix = np.asarray(matrix, dtype=np.float64)
            if matrix.ndim != 2 or matrix.shape[0] != len(words):
                raise ValueError(f"(words, matrix): expected a {len(words)}×d matrix, got shape {matrix.shape}")
            index = {w: i for i, w in enumerate(words)}
            self._get = lambda w: matrix[index[w]] if w in index else None
        elif hasattr(source, "__contains__") and hasattr(source, "__getitem__"):
            self._get = lambda w: source[w] if w in source else None
        elif callable(source):
            self._get = source
        else:
            raise TypeError(
                f"word vectors: expected a mapping, a callable or a (words, matrix) pair, got {type(source).__name__}"
            )

    def __call__(self, word: str) -> np.ndarray | None:
        """The vector of ``word`` (as float64), or ``None`` when it has none."""
        vec = self._get(word)
        if vec is None:
            return None
        arr = np.asarray(vec, dtype=np.float64).ravel()
        return arr if arr.size and np.isfinite(arr).all() else None


def read_vectors(path: str | Path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Read word vectors in the word2vec/fastText text format (``.vec``): an optional ``<count> <dim>`` header,
    then ``word v1 v2 ...`` per line; returns ``(words, matrix)`` for :class:`WordVectors`.

    Only the first ``limit`` vectors are read when given. A line of the wrong width is an error naming it.
    """
    path = Path(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    with path.open(encoding="utf-8", errors="strict") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if lineno == 1 and len(parts) == 2 and all(x.isdigit() for x in parts):
                dim = int(parts[1])
                continue
            if not line.strip():
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) != dim + 1:
                raise ValueError(f"{path}:{lineno}: expected a word and {dim} numbers, got {len(parts) - 1} numbers")
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise ValueError(f"{path}:{lineno}: the vector of {parts[0]!r} is not numeric") from None
            words.append(parts[0])
            if limit is not None and len(words) >= limit:
                break
    if not words:
        raise ValueError(f"{path}: no word vectors")
    return words, np.vstack(rows)


def frequency_band(count: int) -> int:
    """The frequency band of a word seen ``count`` times: ``floor(log2(count + 1))``."""
    return int(math.floor(math.log2(count + 1)))


def vocabulary(tokens: Iterable[Sequence[str]], casefold: bool = True) -> set[str]:
    """The set of (optionally case-folded) tokens of a corpus."""
    return {t.casefold() if casefold else t for sent in tokens for t in sent}


class ContextReplacement(Perturbation):
    """Replace context words shared with the source training vocabulary by unshared target words (this project's
    variant, registered as ``context_band``; see the module docstring for how it differs from P2 as published).

    Args:
        source_vocab: the (case-folded, if ``casefold``) vocabulary of the source training data.
        target_tokens, target_tags: a target-language corpus (e.g. target train); its ``O`` words outside
            ``source_vocab`` are the candidates, and its counts define frequency bands.
        rate: probability that an eligible context word is replaced.
        vectors: word vectors (see :class:`WordVectors`); ``None`` selects by frequency band.
        top_k: with vectors, draw among the ``top_k`` nearest candidates (1 = always the nearest).
        casefold: compare words case-insensitively (replacements copy the original's capitalisation).
    """

    name = "context_band"
    family = "context"

    def __init__(
        self,
        source_vocab: Iterable[str],
        target_tokens: Sequence[Sequence[str]],
        target_tags: Sequence[Sequence[str]] | None = None,
        *,
        rate: float = 0.5,
        vectors: Any = None,
        top_k: int = 1,
        casefold: bool = True,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.rate, self.top_k, self.casefold = rate, top_k, casefold
        fold = (lambda w: w.casefold()) if casefold else (lambda w: w)
        self._fold = fold
        self.source_vocab = {fold(w) for w in source_vocab}
        counts: Counter = Counter()
        context: Counter = Counter()
        for si, sent in enumerate(target_tokens):
            sent_tags = target_tags[si] if target_tags is not None else ["O"] * len(sent)
            for tok, tag in zip(sent, sent_tags, strict=True):
                counts[fold(tok)] += 1
                if tag == "O" and is_word(tok) and fold(tok) not in self.source_vocab:
                    context[fold(tok)] += 1
        self.counts = counts
        # Candidates in first-seen corpus order (deterministic for a given corpus).
        self.candidates: list[str] = list(context)
        bands: dict[int, list[str]] = defaultdict(list)
        for w in self.candidates:
            bands[frequency_band(counts[w])].append(w)
        self.bands = dict(bands)
        self._band_keys = sorted(self.bands)
        self.vectors = WordVectors(vectors) if vectors is not None else None
        self._cand_matrix: np.ndarray | None = None
        self._cand_words: list[str] = []
        self._nearest_cache: dict[str, list[str] | None] = {}
        if self.vectors is not None:
            rows, words = [], []
            for w in self.candidates:
                v = self.vectors(w)
                if v is not None and np.linalg.norm(v) > 0:
                    rows.append(v / np.linalg.norm(v))
                    words.append(w)
            if rows:
                self._cand_matrix = np.vstack(rows)
                self._cand_words = words

    @classmethod
    def from_datasets(
        cls, source_train: datasets.Dataset, target_corpus: datasets.Dataset, **kwargs: Any
    ) -> ContextReplacement:
        """Build from the source training set (its vocabulary) and a target corpus with tags (candidates)."""
        casefold = kwargs.get("casefold", True)
        return cls(
            vocabulary(source_train["tokens"], casefold), target_corpus["tokens"], tag_names(target_corpus), **kwargs
        )

    def params(self) -> dict[str, Any]:
        """Rate, selection method and candidate counts."""
        return {
            "rate": self.rate,
            "method": "embedding" if self.vectors is not None else "frequency_band",
            "top_k": self.top_k,
            "casefold": self.casefold,
            "n_source_vocab": len(self.source_vocab),
            "n_candidates": len(self.candidates),
            "n_candidates_with_vectors": len(self._cand_words) if self.vectors is not None else None,
        }

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Refuse without candidates, without eligible words, or (with vectors) without candidate vectors."""
        if not self.candidates:
            raise PerturbationUnavailable("the target corpus has no context word outside the source vocabulary")
        if self.vectors is not None and self._cand_matrix is None:
            raise PerturbationUnavailable("no replacement candidate has a word vector")
        n = sum(
            1
            for toks, tgs in zip(tokens, tags, strict=True)
            for t, g in zip(toks, tgs, strict=True)
            if self._eligible(t, g)
        )
        report.ops["eligible"] = n
        if n == 0:
            raise PerturbationUnavailable("no context word of the test set occurs in the source vocabulary")

    def _eligible(self, token: str, tag: str) -> bool:
        return tag == "O" and is_word(token) and self._fold(token) in self.source_vocab

    def _nearest(self, word: str) -> list[str] | None:
        if word not in self._nearest_cache:
            assert self.vectors is not None and self._cand_matrix is not None
            v = self.vectors(word)
            if v is None or np.linalg.norm(v) == 0:
                self._nearest_cache[word] = None
            else:
                sims = self._cand_matrix @ (v / np.linalg.norm(v))
                k = min(self.top_k, len(sims))
                # Stable descending order: ties resolve to corpus order, so results are reproducible.
                order = np.argsort(-sims, kind="stable")[:k]
                self._nearest_cache[word] = [self._cand_words[i] for i in order]
        return self._nearest_cache[word]

    def _by_band(self, word: str, rng: random.Random, report: PerturbationReport) -> str:
        band = frequency_band(self.counts.get(word, 0))
        if band not in self.bands:
            pos = bisect_left(self._band_keys, band)
            near = [b for b in self._band_keys[max(0, pos - 1) : pos + 1]]
            band = min(near, key=lambda b: (abs(b - band), b))
            report.ops["band_widened"] += 1
        return rng.choice(self.bands[band])

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Replace eligible context words (with probability ``rate``); entity tokens are never touched."""
        out = list(tokens)
        for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
            if not self._eligible(tok, tag):
                continue
            if rng.random() >= self.rate:
                report.skipped["not drawn (rate)"] += 1
                continue
            key = self._fold(tok)
            if self.vectors is not None:
                near = self._nearest(key)
                if near is None:
                    report.skipped["no word vector"] += 1
                    continue
                new = rng.choice(near)
            else:
                new = self._by_band(key, rng, report)
            out[i] = match_case(tok, new)
            report.tokens_touched += 1
            report.ops["replaced"] += 1
        return out, list(tags)


# ------------------------------------------------------------------------------------ P2 as published

STOPWORD_SOURCE = "stopwordsiso (PyPI; the stopwords-iso collection), as the reference generation notebook uses"


def stopwords_for(lang: str) -> frozenset[str]:
    """The stopword list of ``lang`` from :data:`STOPWORD_SOURCE`.

    Of the 24 local WikiANN languages it covers 21; ``jv``, ``az`` and ``kk`` have no list there, and asking for
    them raises :class:`PerturbationUnavailable` (give ``stopwords=`` explicitly to run P2 on them) — never an
    empty list in silence.
    """
    import stopwordsiso

    if not stopwordsiso.has_lang(lang):
        raise PerturbationUnavailable(
            f"stopwordsiso has no stopword list for {lang!r}; P2 as published filters stopwords, so pass "
            "stopwords=<a list> for this language"
        )
    return frozenset(stopwordsiso.stopwords(lang))


def has_punctuation(word: str) -> bool:
    """True when ``word`` holds an ASCII punctuation character (``string.punctuation``, as the reference) or any
    Unicode punctuation (category ``P*``; a superset of the reference, which sees only ASCII)."""
    return any(c in string.punctuation or unicodedata.category(c).startswith("P") for c in word)


class EncoderWordVectors:
    """A word's vector from a Hugging Face encoder: the word alone through the model, the last layer's hidden
    state at the first position (``[CLS]``/``<s>``) — what the P2 reference reads (``hidden_states[12][0][0]`` of
    the evaluated model's pretrained checkpoint). ``pooling="mean"`` averages the word's pieces instead."""

    def __init__(self, model: str, *, layer: int = -1, pooling: str = "first", batch_size: int = 64) -> None:
        if pooling not in ("first", "mean"):
            raise ValueError(f"pooling must be 'first' or 'mean', got {pooling!r}")
        self.model, self.layer, self.pooling, self.batch_size = model, layer, pooling, batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._encoder: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._encoder is None:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model)
            self._encoder = AutoModel.from_pretrained(self.model).eval()

    def precompute(self, words: Iterable[str]) -> None:
        """Embed every word not yet cached, in batches."""
        import torch

        todo = sorted({w for w in words if w not in self._cache})
        if not todo:
            return
        self._load()
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            enc = self._tokenizer(chunk, padding=True, return_tensors="pt")
            with torch.inference_mode():
                hidden = self._encoder(**enc, output_hidden_states=True).hidden_states[self.layer].float()
            if self.pooling == "first":
                vecs = hidden[:, 0]
            else:
                mask = enc["attention_mask"].unsqueeze(-1).float()
                vecs = (hidden * mask).sum(1) / mask.sum(1)
            for w, v in zip(chunk, vecs.numpy(), strict=True):
                self._cache[w] = v.astype(np.float64)

    def __call__(self, word: str) -> np.ndarray:
        """The vector of ``word`` (computed on first use)."""
        self.precompute([word])
        return self._cache[word]


class PublishedContextReplacement(Perturbation):
    """P2 of Manafi & Krishnaswamy (2024), as their generation notebook (csu-signal/xlingual-robustness) does it.

    A target test word is *eligible* when it is tagged ``O``, its lower-case form is not a target stopword, it
    holds no punctuation and it is longer than one character — and its lower-case form is a source training
    ``O``-word that is not a source stopword (the "seen context" the perturbation removes; the reference compares
    the lower-cased target word with the source word as written). **Every** eligible occurrence is replaced
    (``rate=1.0``; a lower rate draws per occurrence) by the nearest *candidate* by cosine similarity of the
    evaluated encoder's representation of the word alone: candidates are the eligible-by-form words of the same
    target test set (lower-cased) that are not source ``O``-words and differ from the word. A word without a
    candidate is left alone and counted (``skipped["no candidate"]``), as the reference maps it to itself.

    Deviations, all stated: punctuation is ASCII *or* Unicode (:func:`has_punctuation`); the replacement copies
    the original's capitalisation (the reference writes the lower-cased neighbour); ties in similarity resolve in
    sorted word order; ``rate`` below 1 exists for ablations only.

    Args:
        source_tokens, source_tags: the source training split (its ``O``-words are the seen context).
        vectors: word vectors (see :class:`WordVectors`; :class:`EncoderWordVectors` for the reference's
            representation). Required — the neighbour is defined by a representation.
        source_lang: language of the source stopword list (default: none removed from the source words unless
            ``source_stopwords`` is given).
        stopwords: the target stopword list; default :func:`stopwords_for` of the test set's language.
        source_stopwords: the source stopword list; default :func:`stopwords_for` of ``source_lang``.
        rate: probability that an eligible occurrence is replaced (1.0 as published).
    """

    name = "context_replacement"
    family = "context"

    def __init__(
        self,
        source_tokens: Sequence[Sequence[str]],
        source_tags: Sequence[Sequence[str]],
        vectors: Any,
        *,
        source_lang: str | None = None,
        stopwords: Iterable[str] | None = None,
        source_stopwords: Iterable[str] | None = None,
        rate: float = 1.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        if vectors is None:
            raise PerturbationUnavailable("P2 needs word vectors (the evaluated encoder's representation)")
        self.rate, self.source_lang = rate, source_lang
        self.vectors = vectors if isinstance(vectors, EncoderWordVectors) else WordVectors(vectors)
        self.stopwords = frozenset(stopwords) if stopwords is not None else None
        if source_stopwords is None and source_lang is not None:
            source_stopwords = stopwords_for(source_lang)
        src_stop = frozenset(source_stopwords or ())
        self.source_words = {
            t
            for toks, tgs in zip(source_tokens, source_tags, strict=True)
            for t, g in zip(toks, tgs, strict=True)
            if g == "O" and t not in src_stop
        }
        self.alternates: dict[str, str | None] = {}

    @classmethod
    def from_datasets(cls, source_train: datasets.Dataset, vectors: Any, **kwargs: Any) -> PublishedContextReplacement:
        """Build from the source training split."""
        return cls(source_train["tokens"], tag_names(source_train), vectors, **kwargs)

    def params(self) -> dict[str, Any]:
        """Rate, representation and stopword source."""
        rep = (
            f"{self.vectors.model}:L{self.vectors.layer}:{self.vectors.pooling}"
            if isinstance(self.vectors, EncoderWordVectors)
            else "given vectors"
        )
        return {
            "rate": self.rate,
            "method": "published",
            "representation": rep,
            "stopwords": "given" if self.stopwords is not None else STOPWORD_SOURCE,
            "source_lang": self.source_lang,
            "n_source_words": len(self.source_words),
        }

    def _form_ok(self, token: str, tag: str, stop: frozenset[str]) -> bool:
        return tag == "O" and len(token) > 1 and token.lower() not in stop and not has_punctuation(token)

    def prepare(self, tokens: list[Tokens], tags: list[Tags], lang: str | None, report: PerturbationReport) -> None:
        """Find the eligible words and candidates of this test set and each eligible word's nearest candidate."""
        if self.stopwords is not None:
            stop = self.stopwords
        elif lang is None:
            raise PerturbationUnavailable("P2 needs the test set's language for its stopword list")
        else:
            stop = stopwords_for(lang)
        forms = {
            t.lower()
            for toks, tgs in zip(tokens, tags, strict=True)
            for t, g in zip(toks, tgs, strict=True)
            if self._form_ok(t, g, stop)
        }
        shared = sorted(w for w in forms if w in self.source_words)
        cands = sorted(w for w in forms if w not in self.source_words)
        self._stop = stop
        report.ops["eligible_types"] = len(shared)
        report.ops["candidate_types"] = len(cands)
        if not shared:
            raise PerturbationUnavailable("no eligible context word of the test set occurs in source training")
        self.alternates = self._nearest_map(shared, cands)

    def _nearest_map(self, shared: list[str], cands: list[str]) -> dict[str, str | None]:
        if isinstance(self.vectors, EncoderWordVectors):
            self.vectors.precompute([*shared, *cands])
        if not cands:
            return dict.fromkeys(shared)
        mat = np.vstack([np.asarray(self.vectors(w), dtype=np.float64) for w in cands])
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        out: dict[str, str | None] = {}
        for w in shared:
            v = np.asarray(self.vectors(w), dtype=np.float64)
            sims = mat @ (v / max(float(np.linalg.norm(v)), 1e-12))
            sims[sims >= 1.0] = 0.0  # as the reference: an identical vector is not a neighbour
            order = np.argsort(-sims, kind="stable")
            out[w] = next((cands[i] for i in order if cands[i] != w), None)
        return out

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Replace every eligible occurrence (each drawn with probability ``rate``) by its nearest candidate."""
        out = list(tokens)
        for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
            key = tok.lower()
            if key not in self.alternates or not self._form_ok(tok, tag, self._stop):
                continue
            if self.rate < 1.0 and rng.random() >= self.rate:
                report.skipped["not drawn (rate)"] += 1
                continue
            new = self.alternates[key]
            if new is None:
                report.skipped["no candidate"] += 1
                continue
            out[i] = match_case(tok, new)
            report.tokens_touched += 1
            report.ops["replaced"] += 1
        return out, list(tags)
