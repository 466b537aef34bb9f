"""Mark-then-translate (EasyProject; Chen et al. 2023).

1. Put the translator's markers around every source entity (``[ … ]``, or ``<b>…</b>`` for Apertium, which
   keeps inline HTML tags) and translate the marked sentence.
2. Read the marked spans back from the translation.
3. Translate every entity alone, and give each marked span the type of the source entity whose separate
   translation it matches best (fuzzy string similarity, solved as an assignment), as EasyProject does to
   fix labels when markers are reordered.

Entities whose markers are lost or unbalanced in the translation, and marked spans that match no entity,
are counted (outcome ``"dropped"`` with reason ``"markers lost"`` / ``"unmatched span"``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from xner.projection.align import normalise
from xner.projection.spans import Entity, EntityOutcome, entities_from_tags, tags_from_entities
from xner.projection.translate import (
    ApertiumTranslator,
    Translator,
    detokenize,
    escape_markup,
    tokenize,
    unescape_markup,
)


@dataclass
class MarkedTranslation:
    """A translated sentence, its projected tags, and the outcome of each source entity."""

    tokens: list[str]
    tags: list[str]
    outcomes: list[EntityOutcome]
    text: str


def _uses_html(translator: Translator) -> bool:
    return isinstance(translator, ApertiumTranslator) or translator.open_mark.startswith("<")


def marked_text(tokens: Sequence[str], entities: Sequence[Entity], translator: Translator) -> str:
    """The source sentence as text with the translator's markers around each entity."""
    esc = escape_markup if _uses_html(translator) else (lambda s: s)
    parts: list[str] = []
    pos = 0
    for ent in sorted(entities, key=lambda e: e.start):
        if pos < ent.start:
            parts.append(esc(detokenize(tokens[pos : ent.start])))
        inner = esc(detokenize(tokens[ent.start : ent.end]))
        sep = "" if _uses_html(translator) else " "
        parts.append(f"{translator.open_mark}{sep}{inner}{sep}{translator.close_mark}")
        pos = ent.end
    if pos < len(tokens):
        parts.append(esc(detokenize(tokens[pos:])))
    return " ".join(parts)


def read_marked(text: str, translator: Translator) -> tuple[list[str], list[tuple[int, int]], bool]:
    """Tokens and marked spans of a translation; the flag is False when markers were unbalanced.

    Unbalanced or nested markers are skipped (the flag tells); the text between them still yields tokens.
    """
    unesc = unescape_markup if _uses_html(translator) else (lambda s: s)
    pattern = re.compile(f"({re.escape(translator.open_mark)}|{re.escape(translator.close_mark)})")
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    balanced = True
    for piece in pattern.split(text):
        if piece == translator.open_mark:
            if open_at is not None:
                balanced = False
            open_at = len(tokens)
        elif piece == translator.close_mark:
            if open_at is None:
                balanced = False
            elif len(tokens) > open_at:
                spans.append((open_at, len(tokens)))
            open_at = None
        else:
            tokens.extend(tokenize(unesc(piece)))
    if open_at is not None:
        balanced = False
    return tokens, spans, balanced


def _similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cdist

    return np.asarray(cdist([normalise(x) for x in a], [normalise(x) for x in b], scorer=Indel.normalized_similarity))


def mark_then_translate(
    sentences: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    translator: Translator,
    src: str,
    tgt: str,
    *,
    min_similarity: float = 0.0,
) -> list[MarkedTranslation]:
    """Translate labelled sentences with entity markers and read the labelled translation back.

    A marked span is labelled with the type of the entity chosen by the assignment only when its
    similarity to that entity's separate translation is at least ``min_similarity``.
    """
    if len(sentences) != len(tags):
        raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag sequences")
    ents = []
    for k, (s, t) in enumerate(zip(sentences, tags, strict=True)):
        if len(s) == 0:
            raise ValueError(f"sentence {k} is empty")
        if len(s) != len(t):
            raise ValueError(f"sentence {k} has {len(s)} words but {len(t)} tags")
        ents.append(entities_from_tags(t))
    texts = [marked_text(s, e, translator) for s, e in zip(sentences, ents, strict=True)]
    translated = translator.translate(texts, src, tgt, markup=True)
    entity_texts = sorted({detokenize(s[e.start : e.end]) for s, es in zip(sentences, ents, strict=True) for e in es})
    alone = dict(zip(entity_texts, translator.translate(entity_texts, src, tgt), strict=True)) if entity_texts else {}

    out: list[MarkedTranslation] = []
    for k, (s, es, text) in enumerate(zip(sentences, ents, translated, strict=True)):
        tokens, spans, _balanced = read_marked(text, translator)
        outcomes: list[EntityOutcome] = []
        kept: list[Entity] = []
        chosen: dict[int, int] = {}
        if es and spans:
            sim = _similarity(
                [alone[detokenize(s[e.start : e.end])] for e in es], [" ".join(tokens[a:b]) for a, b in spans]
            )
            # tie-break towards keeping source order when similarities are equal
            order_bonus = -1e-6 * np.abs(np.arange(len(es))[:, None] - np.arange(len(spans))[None, :])
            rows, cols = linear_sum_assignment(-(sim + order_bonus))
            chosen = {r: c for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if sim[r, c] >= min_similarity}
        for i, e in enumerate(es):
            if i in chosen:
                a, b = spans[chosen[i]]
                tgt_ent = Entity(e.type, a, b)
                kept.append(tgt_ent)
                outcomes.append(EntityOutcome(k, e, "projected", (tgt_ent,)))
            else:
                reason = "markers lost" if len(spans) < len(es) else "unmatched span"
                outcomes.append(EntityOutcome(k, e, "dropped", (), reason))
        out.append(MarkedTranslation(tokens, tags_from_entities(kept, len(tokens)), outcomes, text))
    return out
