"""Translate-test: tag a target sentence through its translation into the source language.

1. Each target test sentence is translated into the source language (any
   :class:`~xner.projection.translate.Translator`; Apertium by mode name, e.g. ``apertium:zlm-ind``, see
   :func:`translator_from_spec`). Translations are cached on disk by the translator; unknown-word marks
   (``*``, ``#``, ``@`` before a word) are removed from the output.
2. A source-language NER model tags the translation (anything with ``predict(tokens) -> tags`` or a
   callable: the CRF or an e5-small model of stage 04).
3. The predicted labels are projected back onto the original target sentence with a projection method of
   :mod:`xner.projection.project` (heuristic, n-gram / model candidates with ILP or greedy matching,
   heuristic + back-translation refinement) over the alignments of an aligner (the translation is the
   *source* side of the alignment, the original target sentence its *target* side).
4. The projected tags are scored against the target gold (strict span F1, :mod:`xner.metrics`).

A sentence whose translation is empty gets all-``O`` tags and is counted (never left out: the gold has it).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from xner.metrics import score
from xner.projection.align import Aligner
from xner.projection.project import ProjectionConfig, project_corpus
from xner.projection.spans import ProjectionReport
from xner.projection.translate import (
    APERTIUM_CODES,
    ApertiumTranslator,
    Translator,
    UnsupportedPairError,
    apertium_modes,
    get_translator,
)

Tagger = Callable[[list[list[str]]], list[list[str]]]

_UNKNOWN_MARK = re.compile(r"^[*#@](?=\w)")
_FROM_APERTIUM = {v: k for k, v in APERTIUM_CODES.items()}


def strip_unknown_marks(tokens: Sequence[str]) -> list[str]:
    """Tokens without a leading unknown-word mark (``*Joko`` → ``Joko``); lone marks are dropped, and so are
    tokens made only of invisible format characters (a zero-width non-joiner that Apertium urd→hin leaves
    between words is no word, and no encoder gives it a sub-word piece)."""
    out = []
    for tok in tokens:
        tok = _UNKNOWN_MARK.sub("", tok)
        if tok not in ("*", "#", "@") and not all(unicodedata.category(ch) == "Cf" for ch in tok):
            out.append(tok)
    return out


def translator_from_spec(spec: str) -> tuple[Translator, str | None, str | None]:
    """A translator and, for an Apertium mode, its ``(from, to)`` ISO 639-1 languages.

    ``"apertium:zlm-ind"`` → Apertium translating Malay into Indonesian (the mode must be installed);
    ``"apertium"``, ``"nllb"`` → that translator with the languages left to the caller (``None``).
    """
    name, _, mode = spec.partition(":")
    translator = get_translator(name)
    if not mode:
        return translator, None, None
    if name != "apertium":
        raise ValueError(f"translator spec {spec!r}: only apertium takes a mode (apertium:<mode>)")
    installed = apertium_modes()
    if mode not in installed:
        raise UnsupportedPairError(
            f"Apertium mode {mode!r} is not installed (installed: {', '.join(installed) or 'none'}); "
            "scripts/system-deps.sh installs the pairs xner uses"
        )
    parts = mode.split("_")[0].split("-")
    if len(parts) != 2:
        raise ValueError(f"Apertium mode {mode!r} is not of the form <from>-<to>")
    langs = [_FROM_APERTIUM.get(p, p) for p in parts]
    assert isinstance(translator, ApertiumTranslator)
    if translator.mode(langs[0], langs[1]) != mode.split("_")[0]:
        raise ValueError(f"Apertium mode {mode!r} does not map back to a language pair xner knows ({langs})")
    return translator, langs[0], langs[1]


def translate_sentences(
    tokens: Sequence[Sequence[str]], translator: Translator, *, tgt_lang: str, src_lang: str
) -> list[list[str]]:
    """Target sentences (tokens) translated into the source language, tokenized, unknown-word marks removed."""
    for k, t in enumerate(tokens):
        if not t:
            raise ValueError(f"target sentence {k} is empty")
    return [strip_unknown_marks(t) for t in translator.translate_tokens(tokens, tgt_lang, src_lang)]


@dataclass
class TranslateTestRun:
    """Projected target tags of one method over one aligner, with the projection report and strict scores."""

    method: str
    aligner: str
    tags: list[list[str]]
    report: ProjectionReport
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    seconds: float = 0.0


@dataclass
class TranslateTest:
    """The translations, the source model's tags on them, and one :class:`TranslateTestRun` per method."""

    target_tokens: list[list[str]]
    translations: list[list[str]]
    source_tags: list[list[str]]
    runs: list[TranslateTestRun] = field(default_factory=list)
    empty: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per run: method, aligner, P/R/F1 and projection counts."""
        return [
            {
                "method": r.method,
                "aligner": r.aligner,
                "precision": r.precision,
                "recall": r.recall,
                "f1": r.f1,
                "projected": r.report.projected,
                "dropped": r.report.dropped,
                "split": r.report.split,
                "empty_translations": len(self.empty),
                "seconds": r.seconds,
            }
            for r in self.runs
        ]


def _predict(tagger: Tagger | Any, tokens: list[list[str]]) -> list[list[str]]:
    predict = tagger.predict if hasattr(tagger, "predict") else tagger
    tags = predict(tokens)
    if len(tags) != len(tokens) or any(len(g) != len(t) for g, t in zip(tags, tokens, strict=True)):
        raise ValueError("the tagger must return one tag per word of every sentence")
    return [list(g) for g in tags]


def translate_test(
    tokens: Sequence[Sequence[str]],
    translator: Translator,
    tagger: Tagger | Any,
    aligners: dict[str, Aligner],
    configs: Sequence[ProjectionConfig],
    *,
    src_lang: str,
    tgt_lang: str,
    gold: Sequence[Sequence[str]] | None = None,
    target_tagger: Tagger | Any | None = None,
    mono_aligner: Aligner | None = None,
) -> TranslateTest:
    """Translate-test over every projection config x aligner (see the module docstring).

    ``aligners`` maps a name to an aligner (alignment is computed once per aligner and shared by the
    methods); ``target_tagger`` gives the candidates of method ``"model"`` (e.g. the same source model run on
    the target sentences, as in zero-shot); ``gold`` (IOB2 tags of the target sentences) fills the scores.
    """
    tgt = [list(t) for t in tokens]
    if gold is not None and len(gold) != len(tgt):
        raise ValueError(f"{len(gold)} gold tag sequences for {len(tgt)} target sentences")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    translated = translate_sentences(tgt, translator, tgt_lang=tgt_lang, src_lang=src_lang)
    timings["translate"] = time.perf_counter() - t0
    keep = [k for k, t in enumerate(translated) if t]
    empty = [k for k, t in enumerate(translated) if not t]
    src_t = [translated[k] for k in keep]
    tgt_t = [tgt[k] for k in keep]
    t0 = time.perf_counter()
    src_tags_kept = _predict(tagger, src_t) if src_t else []
    timings["tag"] = time.perf_counter() - t0
    source_tags = [[] for _ in tgt]
    for k, g in zip(keep, src_tags_kept, strict=True):
        source_tags[k] = g
    result = TranslateTest(tgt, translated, source_tags, empty=empty, timings=timings)
    for aligner_name, aligner in aligners.items():
        t0 = time.perf_counter()
        links = aligner.align(src_t, tgt_t)
        timings[f"align:{aligner_name}"] = time.perf_counter() - t0
        for cfg in configs:
            t0 = time.perf_counter()
            proj = project_corpus(
                src_t,
                src_tags_kept,
                tgt_t,
                cfg,
                alignments=links,
                predictor=_as_callable(target_tagger),
                translator=translator,
                mono_aligner=mono_aligner,
                src_lang=src_lang,
                tgt_lang=tgt_lang,
            )
            tags = [["O"] * len(t) for t in tgt]
            for k, g in zip(keep, proj.tags, strict=True):
                tags[k] = g
            run = TranslateTestRun(cfg.label, aligner_name, tags, proj.report, seconds=time.perf_counter() - t0)
            if gold is not None:
                s = score(gold, tags, mode="strict")
                run.precision, run.recall, run.f1 = s.precision, s.recall, s.f1
            result.runs.append(run)
    return result


def _as_callable(tagger: Tagger | Any | None) -> Tagger | None:
    if tagger is None:
        return None
    return tagger.predict if hasattr(tagger, "predict") else tagger


__all__ = [
    "TranslateTest",
    "TranslateTestRun",
    "strip_unknown_marks",
    "translate_sentences",
    "translate_test",
    "translator_from_spec",
]
